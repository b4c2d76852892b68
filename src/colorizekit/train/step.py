"""The training step: model, optimizer, loss and precision, and the per-batch work.

`Stepper` turns a uint8 RGB batch into inputs and targets through the model's colour mode, runs the
model (bf16 autocast where the precision policy says so, channels_last where it is faster), computes
the registered loss as (sum, count) and takes an Adam step, without syncing with the host. The same
step serves `train` and the throughput benchmark (`measure_throughput`).

A model with an encoder (`models.pretrained.encoder_of`) gets two parameter groups, the rest of the
model first and the encoder second, the encoder's learning rate scaled by `encoder_lr_scale`; the
encoder can be frozen (`set_encoder_frozen`): no gradients, and its BatchNorm layers in eval mode so
that their running statistics stay as they are.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from typing import Any

import torch
from torch import nn

from colorizekit.hardware import precision_name, resolve_precision
from colorizekit.models import create_model, get_model_info
from colorizekit.models.pretrained import encoder_of
from colorizekit.train.distributed import Dist, broadcast_buffers
from colorizekit.train.losses import get_loss


def adam(params: Iterable[nn.Parameter] | Iterable[dict[str, Any]], lr: float, weight_decay: float) -> torch.optim.Adam:
    """Adam, fused (one kernel for all parameters; on the CPU 40x faster than the per-tensor loop)
    where the device supports it, else the multi-tensor version. `params`: parameters, or parameter
    groups (dicts, as torch.optim takes them)."""
    params = list(params)
    try:
        return torch.optim.Adam(params, lr=lr, weight_decay=weight_decay, fused=True)
    except (RuntimeError, ValueError):
        return torch.optim.Adam(params, lr=lr, weight_decay=weight_decay, foreach=True)


class Stepper:
    """Model, optimizer, loss and the per-batch work: uint8 RGB batch in, loss out, no host syncs."""

    def __init__(self, model_name: str, device: torch.device, *, model_config: dict[str, Any] | None = None,
                 loss: str | None = None, precision: str = "auto", lr: float = 1e-3, weight_decay: float = 1e-7,
                 compile: bool = False, ctx: Dist | None = None, sync_bn: bool = False, seed: int = 44,
                 channels_last: bool | None = None, encoder_lr_scale: float = 1.0) -> None:
        self.ctx = ctx or Dist()
        self.device = device
        info = get_model_info(model_name)
        self.mode = info.mode
        self.loss_name = loss or self.mode.default_loss
        self.loss_fn = get_loss(self.loss_name)
        self.loss_options: dict[str, Any] = {}
        self.cuda = device.type == "cuda"
        dtype, self.precision_reason = resolve_precision(precision, device)
        self.precision = precision_name(dtype)  # "bf16" or "fp32", as used
        self.autocast_dtype = dtype if dtype != torch.float32 else None
        fast_layout = self.cuda or (device.type == "cpu" and info.cpu_channels_last)
        if channels_last is not None:  # the benchmark measures both layouts
            fast_layout = channels_last
        self.memory_format = torch.channels_last if fast_layout else torch.contiguous_format
        torch.manual_seed(seed)  # the same initial weights on every rank and every run
        model = create_model(model_name, **(model_config or {}))
        if sync_bn and self.ctx.enabled:
            if not self.cuda:
                raise ValueError("--sync-bn needs CUDA: torch's SyncBatchNorm does not run on the CPU")
            model = nn.SyncBatchNorm.convert_sync_batchnorm(model)
        self.model = model.to(device=device, memory_format=self.memory_format)
        self.encoder = encoder_of(self.model)
        self.encoder_frozen = False
        self.optimizer = adam(self._param_groups(model_name, encoder_lr_scale), lr=lr, weight_decay=weight_decay)
        self.compile = compile
        self._wrap()
        self.eval_module = torch.compile(self.model) if compile else self.model

    def _param_groups(self, model_name: str, encoder_lr_scale: float) -> list[dict[str, Any]]:
        """One group for a model without an encoder; else the rest of the model, then the encoder
        (its learning rate x `encoder_lr_scale`, applied by `set_lr`)."""
        if self.encoder is None:
            if encoder_lr_scale != 1.0:
                raise ValueError(f"model {model_name!r} has no encoder; an encoder lr scale applies to models "
                                 f"with a pretrained encoder")
            return [{"params": list(self.model.parameters()), "lr_scale": 1.0}]
        own = {id(p) for p in self.encoder.parameters()}
        rest = [p for p in self.model.parameters() if id(p) not in own]
        return [{"params": rest, "lr_scale": 1.0},
                {"params": list(self.encoder.parameters()), "lr_scale": float(encoder_lr_scale)}]

    def _wrap(self) -> None:
        """The module that training steps run: the model, in DDP under torchrun, compiled if asked.
        DDP registers the parameters that need gradients when it wraps, so it is rebuilt when the
        encoder is frozen or unfrozen."""
        train_module: nn.Module = self.model
        if self.ctx.enabled:
            train_module = nn.parallel.DistributedDataParallel(
                self.model, device_ids=[self.device.index] if self.cuda else None)
        self.train_module = torch.compile(train_module) if self.compile else train_module

    def set_encoder_lr_scale(self, scale: float) -> None:
        """Set the encoder group's learning-rate scale (a resume may change it; loading the optimizer's
        state brings the saved one back)."""
        if self.encoder is not None:
            self.optimizer.param_groups[1]["lr_scale"] = float(scale)

    def set_encoder_frozen(self, frozen: bool) -> bool:
        """Freeze (no gradients, BatchNorm in eval mode) or unfreeze the encoder; returns whether that
        changed anything. ValueError to freeze a model without an encoder."""
        if self.encoder is None:
            if frozen:
                raise ValueError(f"{type(self.model).__name__} has no encoder to freeze; freeze_encoder applies "
                                 f"to models with a pretrained encoder")
            return False
        if frozen == self.encoder_frozen:
            return False
        self.encoder_frozen = frozen
        self.encoder.requires_grad_(not frozen)
        if self.ctx.enabled:
            self._wrap()
        return True

    def set_loss_options(self, **train_options: Any) -> None:
        """Ask the colour mode for the loss's options (e.g. class weights from the model's prior)."""
        self.loss_options = self.mode.loss_options(self.model, **train_options)

    def set_lr(self, lr: float) -> None:
        """The schedule's rate for this step, times each parameter group's scale (the encoder's)."""
        for group in self.optimizer.param_groups:
            group["lr"] = lr * group.get("lr_scale", 1.0)

    def _inputs(self, batch: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        rgb = batch.to(self.device, non_blocking=True).float().div_(255.0)  # (N, 3, S, S) in [0, 1]
        inp = self.mode.input_from_rgb(rgb).contiguous(memory_format=self.memory_format)  # (N, 1, S, S)
        return inp, self.mode.target_from_rgb(rgb)  # float32, the mode's target

    def _forward(self, module: nn.Module, inp: torch.Tensor) -> torch.Tensor:
        if self.autocast_dtype is None:
            return module(inp)
        with torch.autocast(self.device.type, dtype=self.autocast_dtype):
            return module(inp)

    def train_step(self, batch: torch.Tensor) -> torch.Tensor:
        """One optimisation step on a uint8 batch (N, 3, S, S); returns the detached mean loss (on device)."""
        self.train_module.train()
        if self.encoder_frozen:
            self.encoder.eval()  # its BatchNorm running statistics stay as they are
        inp, target = self._inputs(batch)
        out = self._forward(self.train_module, inp)
        total, count = self.loss_fn(out.float(), target, **self.loss_options)
        loss = total / count
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        return loss.detach()

    @torch.no_grad()
    def eval_batch(self, batch: torch.Tensor) -> tuple[torch.Tensor, int]:
        """Summed loss (on device) and its count for a uint8 batch, in eval mode."""
        self.model.eval()
        inp, target = self._inputs(batch)
        out = self._forward(self.eval_module, inp)
        return self.loss_fn(out.float(), target, **self.loss_options)

    def sync_buffers(self) -> None:
        """Give every rank rank 0's BatchNorm running statistics (they drift apart within a step)."""
        broadcast_buffers(self.model, self.ctx)

    def params_finite(self) -> bool:
        return bool(torch.stack([p.detach().isfinite().all() for p in self.model.parameters()]).all())


def measure_throughput(model_name: str, batches: Iterable[torch.Tensor], *, steps: int, warmup: int = 3,
                       device: str = "auto", precision: str = "auto", compile: bool = False,
                       channels_last: bool | None = None) -> float:
    """Training images per second of the real training step (`train`'s own code) on uint8 RGB batches
    (B, 3, S, S) from `batches` (re-iterated as needed); the first `warmup` steps are not timed.
    channels_last: force a memory layout (None: the one training uses for this model and device)."""
    from colorizekit.hardware import resolve_device

    device_t = resolve_device(device)
    if device_t.type == "cuda":
        torch.backends.cudnn.benchmark = True
    stepper = Stepper(model_name, device_t, precision=precision, compile=compile, channels_last=channels_last)
    stepper.set_loss_options()

    def endless() -> Iterator[torch.Tensor]:
        while True:
            yielded = False
            for b in batches:
                yielded = True
                yield b
            if not yielded:
                raise ValueError("no batches to measure on")

    it = endless()
    for _ in range(warmup):
        stepper.train_step(next(it))
    loss_sum = torch.zeros((), device=device_t)
    photos = 0
    if device_t.type == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    for _ in range(steps):
        batch = next(it)
        loss_sum += stepper.train_step(batch)
        photos += batch.shape[0]
    loss_sum.item()  # waits for the device
    return photos / (time.perf_counter() - start)
