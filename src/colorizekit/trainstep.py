"""The training step: model, optimizer, loss and precision, and the per-batch work.

`Stepper` turns a uint8 RGB batch into inputs and targets through the model's colour mode, runs the
model (bf16 autocast where the precision policy says so, channels_last where it is faster), computes
the registered loss as (sum, count) and takes an Adam step, without syncing with the host. The same
step serves `train` and the throughput benchmark (`measure_throughput`).
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from typing import Any

import torch
from torch import nn

from colorizekit.defaults import precision_name, resolve_precision
from colorizekit.distributed import Dist, broadcast_buffers
from colorizekit.losses import get_loss
from colorizekit.models import create_model, get_model_info


def adam(params: Iterable[nn.Parameter], lr: float, weight_decay: float) -> torch.optim.Adam:
    """Adam, fused (one kernel for all parameters; on the CPU 40x faster than the per-tensor loop)
    where the device supports it, else the multi-tensor version."""
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
                 channels_last: bool | None = None) -> None:
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
        self.optimizer = adam(self.model.parameters(), lr=lr, weight_decay=weight_decay)
        train_module: nn.Module = self.model
        if self.ctx.enabled:
            train_module = nn.parallel.DistributedDataParallel(
                self.model, device_ids=[device.index] if self.cuda else None)
        self.train_module = torch.compile(train_module) if compile else train_module
        self.eval_module = torch.compile(self.model) if compile else self.model

    def set_loss_options(self, **train_options: Any) -> None:
        """Ask the colour mode for the loss's options (e.g. class weights from the model's prior)."""
        self.loss_options = self.mode.loss_options(self.model, **train_options)

    def set_lr(self, lr: float) -> None:
        for group in self.optimizer.param_groups:
            group["lr"] = lr

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
    from colorizekit.defaults import resolve_device

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
