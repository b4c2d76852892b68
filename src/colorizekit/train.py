"""Training: the design's recipe, fast on a GPU, resumable, and distributed with torchrun.

`train(TrainConfig(data_dir, model, out_dir))` reproduces the design by default: 128 x 128 photos,
batch 32, MSE on the model's colour-mode target, Adam (lr 1e-3, weight decay 1e-7), up to 100
epochs, early stopping on the mean validation loss (patience 10, delta 0), split 80/20 after a
shuffle with seed 44. It writes into `out_dir`:

- `last.pt` after every epoch and `best.pt` when validation improves (self-describing checkpoints:
  model, config, epoch, weights, optimizer, early-stopping state, history, RNG states);
- `history.csv` (epoch, train_loss, val_loss, seconds, images_per_s, lr) and `loss_curve.png`,
  rewritten after every epoch; `split.json`, the photos of each side of the split;
- at the end, `model.safetensors` (the best weights, fp16) and `model_card.json`.

Differences from the notebooks, on purpose: standard early stopping (the notebook reloaded the best
weights after every non-improving epoch; `restart_from_best=True` does that); validation loss is the
exact mean over photos, not a mean of batch means; `resize="crop"` (random crops and flips) by
default, `resize="squash"` is the design's.

Speed: photos are decoded and resized in DataLoader workers and arrive as uint8; colour conversion
and normalisation run on the device for the whole batch, in float32, outside autocast. On CUDA:
bf16 autocast, channels_last, cudnn.benchmark, pinned memory and non-blocking copies; the loss is
summed on the device and read back every `SYNC_EVERY` steps, not every step.

Resuming (`resume=True`) continues exactly: the sampler order and every random crop depend only on
(seed, epoch, index), and model, optimizer, early stopping, history and RNG states come from
`last.pt`. Ctrl-C or SIGTERM finishes the step in progress (under torchrun: steps up to the next
read-back, at most SYNC_EVERY, so that all ranks stop at the same step; a validation in progress is
finished too), saves the state after that step to `last.pt` (mid-epoch: the step and the epoch's
running loss are saved too) and returns; a resumed run then gives the same weights as an
uninterrupted one. A second Ctrl-C aborts at once (the last checkpoint on disk stays intact). A NaN or infinite loss raises `TrainingDiverged` and keeps the
last good checkpoint: non-finite weights are never written.

Distributed: run the same command under `torchrun --nproc_per_node=N` (any number of nodes).
Ranks use DistributedDataParallel (NCCL on CUDA, gloo on CPU); `batch_size` is the global batch,
split evenly across ranks; validation is sharded and its loss summed over all ranks, so it equals
the single-process mean. Only rank 0 writes files; all ranks take the same early-stopping decision.
BatchNorm: by default each rank normalises with its own batch's statistics (DDP's default; rank 0's
running statistics are broadcast to the others), so N ranks of B/N photos do not compute exactly what
one process of B photos does; `sync_bn=True` (CUDA only) uses SyncBatchNorm, which does.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import math
import os
import random
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import nn

from colorizekit.atomic import atomic_path, atomic_write_text
from colorizekit.checkpoint import export_weights, load_checkpoint, model_state_dict, save_checkpoint
from colorizekit.models import create_model, get_model_info

SYNC_EVERY = 25  # training steps between read-backs of the loss (progress bar, NaN check, stop agreement)
PRECISIONS = ("auto", "bf16", "fp32")  # "auto": bf16 on CUDA, fp32 elsewhere
SPLIT_FORMAT = "colorizekit-split"  # marker of split.json
HISTORY_FIELDS = ("epoch", "train_loss", "val_loss", "seconds", "images_per_s", "lr")


@dataclass(frozen=True)
class TrainConfig:
    """Everything that defines a training run; saved (as a dict) in every checkpoint."""

    data_dir: str  # folder of photos, scanned recursively
    model: str  # registry name, e.g. "jkspnet-lab"
    out_dir: str  # run folder: checkpoints, history, loss curve, exported weights
    epochs: int = 100  # maximum number of epochs (design: 100)
    batch_size: int = 32  # GLOBAL batch, split evenly across distributed ranks (design: 32)
    image_size: int = 128  # square training size; a multiple of the model's size_multiple (design: 128)
    lr: float = 1e-3  # Adam learning rate (design: 1e-3)
    weight_decay: float = 1e-7  # Adam weight decay (design: 1e-7)
    patience: int = 10  # early stopping: epochs without improvement before stopping (design: 10)
    min_delta: float = 0.0  # early stopping: the validation loss must drop by more than this (design: 0)
    val_fraction: float = 0.2  # share of the photos kept for validation (design: 0.2)
    seed: int = 44  # seeds the split, initial weights, shuffling and crops (design: random.seed(44))
    resize: str = "crop"  # "crop": random crops + flips, centre crop for validation; "squash" (design)
    workers: int | None = None  # DataLoader processes per rank; None: min(8, CPU cores per rank)
    device: str = "auto"  # "auto" (CUDA if available), "cpu", "cuda", "cuda:1"...; torchrun: cuda:LOCAL_RANK
    precision: str = "auto"  # "bf16" autocast or "fp32"; "auto": bf16 on CUDA GPUs that have it, else fp32
    compile: bool = False  # torch.compile the model
    sync_bn: bool = False  # SyncBatchNorm across ranks (CUDA only; default: per-rank statistics)
    restart_from_best: bool = False  # the design's notebook: reload best weights after a non-improving epoch
    deterministic: bool = False  # torch.use_deterministic_algorithms (reproducible bit for bit; slower)

    def __post_init__(self) -> None:
        info = get_model_info(self.model)  # ValueError naming the known models
        positive = {"epochs": self.epochs, "batch_size": self.batch_size, "image_size": self.image_size}
        for name, value in positive.items():
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive integer; got {value!r}")
        if self.image_size % info.size_multiple:
            lower = max(info.size_multiple, self.image_size // info.size_multiple * info.size_multiple)
            raise ValueError(f"image size {self.image_size} is not a multiple of {info.size_multiple}, which model "
                             f"{self.model!r} needs; use e.g. {lower} or {lower + info.size_multiple}")
        if not self.lr > 0 or not math.isfinite(self.lr):
            raise ValueError(f"learning rate must be a positive number; got {self.lr!r}")
        if self.weight_decay < 0:
            raise ValueError(f"weight decay must be >= 0; got {self.weight_decay!r}")
        if self.patience < 1:
            raise ValueError(f"patience must be at least 1 epoch; got {self.patience!r}")
        if self.min_delta < 0:
            raise ValueError(f"min_delta must be >= 0; got {self.min_delta!r}")
        if not 0.0 < self.val_fraction < 1.0:
            raise ValueError(f"validation fraction must be between 0 and 1 (exclusive); got {self.val_fraction!r}")
        if self.resize not in ("crop", "squash"):
            raise ValueError(f"resize must be 'crop' or 'squash'; got {self.resize!r}")
        if self.workers is not None and self.workers < 0:
            raise ValueError(f"workers must be >= 0; got {self.workers!r}")
        if self.precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}; got {self.precision!r}")


# Fields that may differ between a checkpoint's config and the config a run is resumed with.
RESUMABLE_CHANGES = frozenset({"data_dir", "out_dir", "epochs", "patience", "workers", "device", "precision",
                               "compile", "deterministic"})


@dataclass(frozen=True)
class TrainResult:
    """How a call to `train` ended."""

    run_dir: Path  # the run folder
    status: str  # "finished" (all epochs), "early_stopped", or "interrupted" (resume with resume=True)
    epochs_run: int  # completed epochs, including those before a resume
    best_epoch: int  # epoch of the lowest validation loss (0 if none completed)
    best_val_loss: float  # that loss (inf if none completed)
    history: tuple[dict[str, float], ...]  # one row per completed epoch (see HISTORY_FIELDS)
    weights_path: Path | None  # model.safetensors, exported when the run ended (None if interrupted)


class TrainingDiverged(RuntimeError):
    """The loss became NaN or infinite; the run stopped and kept its last good checkpoint."""


# ----------------------------------------------------------------------------------------------
# Distributed set-up


@dataclass(frozen=True)
class _Dist:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    local_world_size: int = 1
    owns_group: bool = False  # we initialised the process group (and destroy it at the end)

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1


def _resolve_device(name: str, local_rank: int, distributed: bool) -> torch.device:
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    device = torch.device(name)
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(f"device {name!r} asked for, but CUDA is not available")
        if distributed or device.index is None:
            device = torch.device("cuda", local_rank if distributed else torch.cuda.current_device())
        torch.cuda.set_device(device)
    return device


def _setup_distributed(config: TrainConfig) -> tuple[_Dist, torch.device]:
    """Join the torchrun job described by the environment (WORLD_SIZE, RANK, LOCAL_RANK, MASTER_ADDR...)."""
    if dist.is_available() and dist.is_initialized():
        world, rank = dist.get_world_size(), dist.get_rank()
        local_rank = int(os.environ.get("LOCAL_RANK", rank))
        ctx = _Dist(rank, world, local_rank, int(os.environ.get("LOCAL_WORLD_SIZE", world)), owns_group=False)
        return ctx, _resolve_device(config.device, local_rank, ctx.enabled)
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return _Dist(), _resolve_device(config.device, 0, False)
    rank, local_rank = int(os.environ["RANK"]), int(os.environ.get("LOCAL_RANK", "0"))
    device = _resolve_device(config.device, local_rank, True)
    dist.init_process_group(backend="nccl" if device.type == "cuda" else "gloo", init_method="env://",
                            world_size=world, rank=rank, device_id=device if device.type == "cuda" else None)
    return _Dist(rank, world, local_rank, int(os.environ.get("LOCAL_WORLD_SIZE", world)), owns_group=True), device


def _broadcast_object(obj: Any, ctx: _Dist) -> Any:
    """Rank 0's `obj` on every rank."""
    if not ctx.enabled:
        return obj
    box = [obj if ctx.is_main else None]
    dist.broadcast_object_list(box, src=0)
    return box[0]


# ----------------------------------------------------------------------------------------------
# Stopping on Ctrl-C / SIGTERM


class _StopRequest:
    """Turns SIGINT/SIGTERM into a request to stop after the current step (second Ctrl-C: abort)."""

    def __init__(self, event: threading.Event | None, announce: bool) -> None:
        self.event = event or threading.Event()
        self.announce = announce
        self.reason = "a stop request"
        self._previous: dict[int, Any] = {}

    def __enter__(self) -> _StopRequest:
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def __exit__(self, *exc: object) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)

    def _handle(self, signum: int, frame: object) -> None:
        if self.event.is_set():
            if signum == signal.SIGINT:
                raise KeyboardInterrupt
            return
        self.reason = signal.Signals(signum).name
        self.event.set()
        if self.announce:
            print(f"\n{self.reason} received: finishing the current step, then saving a checkpoint "
                  f"(Ctrl-C again to abort without saving)", file=sys.stderr, flush=True)

    @property
    def requested(self) -> bool:
        return self.event.is_set()


# ----------------------------------------------------------------------------------------------
# The training step (shared by `train` and `measure_throughput`)


def _adam(params: Iterable[nn.Parameter], lr: float, weight_decay: float) -> torch.optim.Adam:
    """Adam, fused (one kernel for all parameters; on the CPU 40x faster than the per-tensor loop)
    where the device supports it, else the multi-tensor version."""
    params = list(params)
    try:
        return torch.optim.Adam(params, lr=lr, weight_decay=weight_decay, fused=True)
    except (RuntimeError, ValueError):
        return torch.optim.Adam(params, lr=lr, weight_decay=weight_decay, foreach=True)


class _Stepper:
    """Model, optimizer and the per-batch work: uint8 RGB batch in, loss out, no host syncs."""

    def __init__(self, model_name: str, device: torch.device, *, precision: str = "auto", lr: float = 1e-3,
                 weight_decay: float = 1e-7, compile: bool = False, ctx: _Dist | None = None,
                 sync_bn: bool = False, seed: int = 44) -> None:
        self.ctx = ctx or _Dist()
        self.device = device
        self.mode = get_model_info(model_name).mode
        self.cuda = device.type == "cuda"
        if precision == "auto":
            precision = "bf16" if self.cuda and torch.cuda.is_bf16_supported() else "fp32"
        self.precision = precision  # "bf16" or "fp32", as used
        self.autocast_dtype = torch.bfloat16 if precision == "bf16" else None
        self.memory_format = torch.channels_last if self.cuda else torch.contiguous_format
        torch.manual_seed(seed)  # the same initial weights on every rank and every run
        model = create_model(model_name)
        if sync_bn and self.ctx.enabled:
            if not self.cuda:
                raise ValueError("--sync-bn needs CUDA: torch's SyncBatchNorm does not run on the CPU")
            model = nn.SyncBatchNorm.convert_sync_batchnorm(model)
        self.model = model.to(device=device, memory_format=self.memory_format)
        self.optimizer = _adam(self.model.parameters(), lr=lr, weight_decay=weight_decay)
        train_module: nn.Module = self.model
        if self.ctx.enabled:
            train_module = nn.parallel.DistributedDataParallel(
                self.model, device_ids=[device.index] if self.cuda else None)
        self.train_module = torch.compile(train_module) if compile else train_module
        self.eval_module = torch.compile(self.model) if compile else self.model

    def _inputs(self, batch: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        rgb = batch.to(self.device, non_blocking=True).float().div_(255.0)  # (N, 3, S, S) in [0, 1]
        inp = self.mode.input_from_rgb(rgb).contiguous(memory_format=self.memory_format)  # (N, 1, S, S)
        return inp, self.mode.target_from_rgb(rgb)  # target (N, C, S, S), float32

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
        loss = F.mse_loss(out.float(), target)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        return loss.detach()

    @torch.no_grad()
    def eval_batch(self, batch: torch.Tensor) -> tuple[torch.Tensor, int]:
        """Summed squared error (on device) and element count of a uint8 batch, in eval mode."""
        self.model.eval()
        inp, target = self._inputs(batch)
        out = self._forward(self.eval_module, inp)
        return F.mse_loss(out.float(), target, reduction="sum"), target.numel()

    def sync_buffers(self) -> None:
        """Give every rank rank 0's BatchNorm running statistics (they drift apart within a step)."""
        if self.ctx.enabled:
            for buf in self.model.buffers():
                dist.broadcast(buf, src=0)

    def params_finite(self) -> bool:
        return bool(torch.stack([p.detach().isfinite().all() for p in self.model.parameters()]).all())


# ----------------------------------------------------------------------------------------------
# Checkpoint state helpers


def _rng_state() -> dict[str, Any]:
    """Python, NumPy, torch CPU (and CUDA) RNG states as tensors and plain values (weights_only-safe)."""
    version, internal, gauss = random.getstate()
    name, keys, pos, has_gauss, cached = np.random.get_state()
    state: dict[str, Any] = {
        "python": [version, list(internal), gauss],
        "numpy": [name, keys.tolist(), int(pos), int(has_gauss), float(cached)],
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state()
    return state


def _set_rng_state(state: dict[str, Any]) -> None:
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    name, keys, pos, has_gauss, cached = state["numpy"]
    np.random.set_state((name, np.array(keys, dtype=np.uint32), pos, has_gauss, cached))
    torch.set_rng_state(state["torch"].cpu())
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state(state["cuda"].cpu())


def _to_cpu(obj: Any) -> Any:
    if isinstance(obj, torch.Tensor):
        return obj.detach().cpu()
    if isinstance(obj, dict):
        return {k: _to_cpu(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(_to_cpu(v) for v in obj)
    return obj


def _link_or_copy(src: Path, dst: Path) -> None:
    """Make `dst` an atomic copy of `src` (a hard link when the file system allows)."""
    with atomic_path(dst) as tmp:
        tmp.unlink()
        try:
            os.link(src, tmp)
        except OSError:
            import shutil

            shutil.copyfile(src, tmp)


def load_run_config(run_dir: str | os.PathLike) -> TrainConfig:
    """The config saved in `run_dir/last.pt` (to resume a run with the settings it started with)."""
    path = Path(run_dir) / "last.pt"
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no checkpoint to resume from")
    try:  # mmap: only the small config is read, not the weights
        payload = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
    except Exception:
        payload = load_checkpoint(path)
    names = {f.name for f in dataclasses.fields(TrainConfig)}
    return TrainConfig(**{k: v for k, v in payload.get("config", {}).items() if k in names})


def _check_resume(payload: dict[str, Any], config: TrainConfig, path: Path) -> None:
    if payload.get("model") != config.model:
        raise ValueError(f"{path} is a checkpoint for model {payload.get('model')!r}, not {config.model!r}; "
                         f"resume with --model {payload.get('model')} or choose another --out folder")
    saved = payload.get("config", {})
    changed = [f"{f.name} {saved[f.name]!r} -> {getattr(config, f.name)!r}" for f in dataclasses.fields(config)
               if f.name in saved and f.name not in RESUMABLE_CHANGES and saved[f.name] != getattr(config, f.name)]
    if changed:
        raise ValueError(f"{path}: cannot resume with different settings ({'; '.join(changed)}); "
                         f"only {', '.join(sorted(RESUMABLE_CHANGES))} may change")


# ----------------------------------------------------------------------------------------------
# Data


def _prepare_split(config: TrainConfig, run_dir: Path, resume: bool, ctx: _Dist, progress: bool,
                   log: Callable[[str], None]) -> dict[str, Any]:
    """split.json's content on every rank: the saved one when resuming, else a new scan and split.

    The scan is shared out: each rank decodes every world_size-th photo, so a first start on a large
    data set (ImageNet) takes 1/world_size of the time. Errors are raised on every rank together.
    """
    split_path = run_dir / "split.json"
    saved = None
    if ctx.is_main and resume and split_path.is_file():
        saved = json.loads(split_path.read_text(encoding="utf-8"))
    saved = _broadcast_object(saved, ctx)
    if saved is not None:
        log(f"data: the saved split of {split_path} ({len(saved['train'])} training, "
            f"{len(saved['val'])} validation photos)")
        return saved

    from colorizekit.data import check_photos, collect_scan, list_images, split_paths

    root = Path(config.data_dir)

    def on_rank0(fn: Callable[[], Any]) -> Any:
        """fn() on rank 0, its result (or its one-line error, raised) on every rank."""
        out: dict[str, Any] = {}
        if ctx.is_main:
            try:
                out = {"value": fn()}
            except (ValueError, FileNotFoundError) as exc:
                out = {"error": str(exc), "not_found": isinstance(exc, FileNotFoundError)}
        out = _broadcast_object(out, ctx)
        if "error" in out:
            raise (FileNotFoundError if out["not_found"] else ValueError)(out["error"])
        return out["value"]

    candidates = [root / p for p in on_rank0(lambda: [p.relative_to(root).as_posix() for p in list_images(root)])]
    mine = check_photos(candidates[ctx.rank::ctx.world_size], progress=progress and ctx.is_main)
    shards = [mine]
    if ctx.enabled:
        shards = [None] * ctx.world_size
        dist.all_gather_object(shards, mine)
    results: list[Any] = [None] * len(candidates)
    for rank, shard in enumerate(shards):
        results[rank::ctx.world_size] = shard

    def make_split() -> dict[str, Any]:
        scan = collect_scan(root, candidates, results)
        rel = [p.relative_to(root).as_posix() for p in scan.paths]
        train_rel, val_rel = split_paths(rel, config.val_fraction, config.seed)
        log(f"data: {len(candidates)} image files in {root}: {len(scan.paths)} used, {len(scan.grayscale)} "
            f"grayscale skipped, {len(scan.unreadable)} unreadable skipped")
        for message in scan.unreadable[:5]:
            log(f"  skipped: {message}")
        if len(scan.unreadable) > 5:
            log(f"  ... and {len(scan.unreadable) - 5} more unreadable files")
        log(f"data: split with seed {config.seed}: {len(train_rel)} training, {len(val_rel)} validation photos")
        split = {
            "format": SPLIT_FORMAT,
            "data_dir": str(root),
            "seed": config.seed,
            "val_fraction": config.val_fraction,
            "train": train_rel,
            "val": val_rel,
            "skipped_grayscale": [p.relative_to(root).as_posix() for p in scan.grayscale],
            "skipped_unreadable": list(scan.unreadable),
        }
        atomic_write_text(split_path, json.dumps(split, indent=1) + "\n")
        return split

    return on_rank0(make_split)


# ----------------------------------------------------------------------------------------------
# Files of a run


def _write_history(path: Path, history: list[dict[str, float]]) -> None:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=HISTORY_FIELDS, lineterminator="\n")
    writer.writeheader()
    for row in history:
        writer.writerow({k: (f"{row[k]:.8g}" if isinstance(row[k], float) else row[k]) for k in HISTORY_FIELDS})
    atomic_write_text(path, buf.getvalue())


def _write_curve(path: Path, history: list[dict[str, float]], best_epoch: int, model: str) -> None:
    from colorizekit.plots import plot_loss_curve

    plot_loss_curve(history, path, best_epoch=best_epoch or None, title=f"{model}: loss per epoch")


# ----------------------------------------------------------------------------------------------
# The training loop


def train(config: TrainConfig, *, resume: bool = False, progress: bool = True,
          stop: threading.Event | None = None,
          on_epoch: Callable[[dict[str, float]], None] | None = None) -> TrainResult:
    """Train `config.model` on the photos in `config.data_dir`, writing the run into `config.out_dir`.

    resume: continue the run saved in `out_dir/last.pt` (its model must be `config.model`; only the
    fields in RESUMABLE_CHANGES may differ from its config). Without it, an `out_dir` that already
    holds a run is refused.
    progress: show tqdm bars (log lines are printed either way, by rank 0 only).
    stop: an event that, once set, stops training after the current step as Ctrl-C/SIGTERM do.
    on_epoch: called (on every rank) with each epoch's history row.

    Returns a TrainResult; raises ValueError/FileNotFoundError for bad settings or data (one-line
    messages) and TrainingDiverged when the loss stops being finite.
    """
    ctx, device = _setup_distributed(config)
    previous_deterministic = torch.are_deterministic_algorithms_enabled()
    previous_benchmark = torch.backends.cudnn.benchmark
    try:
        if config.deterministic:
            if device.type == "cuda":
                os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
            torch.use_deterministic_algorithms(True)
        torch.backends.cudnn.benchmark = device.type == "cuda" and not config.deterministic
        with _StopRequest(stop, announce=ctx.is_main) as stop_request:
            return _Run(config, ctx, device, resume, progress, stop_request, on_epoch).run()
    finally:
        if config.deterministic:
            torch.use_deterministic_algorithms(previous_deterministic)
        torch.backends.cudnn.benchmark = previous_benchmark
        if ctx.owns_group:
            dist.destroy_process_group()


@dataclass
class _EarlyStopping:
    best_val_loss: float = math.inf
    best_epoch: int = 0
    bad_epochs: int = 0


@dataclass
class _Partial:
    """Progress inside an epoch, saved when a run is interrupted mid-epoch."""

    step: int = 0  # global steps done in this epoch
    loss_sum: float = 0.0  # sum over done steps of (mean loss x photos), all ranks
    photos: int = 0  # photos trained on in this epoch, all ranks
    seconds: float = 0.0  # time spent on this epoch before the interruption


@dataclass
class _Run:
    config: TrainConfig
    ctx: _Dist
    device: torch.device
    resume: bool
    progress: bool
    stop: _StopRequest
    on_epoch: Callable[[dict[str, float]], None] | None
    history: list[dict[str, float]] = field(default_factory=list)
    early: _EarlyStopping = field(default_factory=_EarlyStopping)

    def log(self, message: str) -> None:
        if self.ctx.is_main:
            from tqdm import tqdm

            tqdm.write(message)

    # -- set-up -------------------------------------------------------------------------------

    def run(self) -> TrainResult:
        cfg, ctx = self.config, self.ctx
        self.run_dir = Path(cfg.out_dir)
        self.last_path, self.best_path = self.run_dir / "last.pt", self.run_dir / "best.pt"
        if cfg.batch_size % ctx.world_size:
            raise ValueError(f"batch size {cfg.batch_size} (global) does not divide evenly across "
                             f"{ctx.world_size} processes")
        payload = self._load_resume_payload()
        self.split = _prepare_split(cfg, self.run_dir, self.resume, ctx, self.progress, self.log)
        self._build(payload)
        start_epoch, partial = 0, _Partial()
        if payload is not None:
            start_epoch = int(payload["epoch"])
            partial = _Partial(**payload["partial"]) if payload.get("partial") else _Partial()
            self.early = _EarlyStopping(**payload["early_stopping"])
            self.history = [dict(r) for r in payload.get("history", [])]
            _set_rng_state(payload["rng"])
            where = f"epoch {start_epoch + 1}, step {partial.step}" if partial.step else f"epoch {start_epoch + 1}"
            self.log(f"resuming {self.last_path} at {where}")
            del payload
        return self._loop(start_epoch, partial)

    def _load_resume_payload(self) -> dict[str, Any] | None:
        if not self.resume:
            if self.last_path.exists():
                raise ValueError(f"{self.run_dir} already holds a training run ({self.last_path.name}); "
                                 f"resume it with --resume or choose another --out folder")
            return None
        if not self.last_path.is_file():
            raise FileNotFoundError(f"{self.last_path}: no checkpoint to resume from")
        payload = load_checkpoint(self.last_path)  # every rank reads it (the run folder must be shared)
        _check_resume(payload, self.config, self.last_path)
        return payload

    def _build(self, payload: dict[str, Any] | None) -> None:
        from colorizekit.data import PhotoDataset, ShardSampler, make_loader

        cfg, ctx = self.config, self.ctx
        self.stepper = _Stepper(cfg.model, self.device, precision=cfg.precision, lr=cfg.lr,
                                weight_decay=cfg.weight_decay, compile=cfg.compile, ctx=ctx, sync_bn=cfg.sync_bn,
                                seed=cfg.seed)
        if payload is not None:
            self.stepper.model.load_state_dict(payload["state_dict"])
            self.stepper.optimizer.load_state_dict(payload["optimizer"])
        self.best_state = None
        if cfg.restart_from_best and payload is not None and self.best_path.is_file():
            self.best_state = load_checkpoint(self.best_path)["state_dict"]

        root = Path(cfg.data_dir)
        train_paths = [root / p for p in self.split["train"]]
        val_paths = [root / p for p in self.split["val"]]
        if self.resume:  # rank 0 looks, every rank learns the answer (no rank may fail alone)
            problem = None
            if ctx.is_main:
                missing = [p for p in train_paths + val_paths if not p.is_file()]
                if missing:
                    problem = (f"{len(missing)} photos of the saved split are missing under {root} "
                               f"(first: {missing[0]})")
            problem = _broadcast_object(problem, ctx)
            if problem:
                raise FileNotFoundError(problem)
        local_batch = cfg.batch_size // ctx.world_size
        workers = cfg.workers if cfg.workers is not None else min(8, (os.cpu_count() or 1) // ctx.local_world_size)
        pin = self.device.type == "cuda"
        self.train_sampler = ShardSampler(len(train_paths), global_batch=cfg.batch_size, rank=ctx.rank,
                                          world_size=ctx.world_size, shuffle=True, drop_last=True, seed=cfg.seed)
        if self.train_sampler.steps_per_epoch == 0:
            raise ValueError(f"the training set has {len(train_paths)} photos, fewer than one batch of "
                             f"{cfg.batch_size}; lower --batch-size or add photos")
        self.val_sampler = ShardSampler(len(val_paths), global_batch=cfg.batch_size, rank=ctx.rank,
                                        world_size=ctx.world_size, shuffle=False, drop_last=False, seed=cfg.seed)
        train_set = PhotoDataset(train_paths, cfg.image_size, train=True, resize=cfg.resize, seed=cfg.seed)
        val_set = PhotoDataset(val_paths, cfg.image_size, train=False, resize=cfg.resize, seed=cfg.seed)
        self.train_loader = make_loader(train_set, self.train_sampler, batch_size=local_batch, workers=workers,
                                        pin_memory=pin, seed=cfg.seed + ctx.rank)
        self.val_loader = make_loader(val_set, self.val_sampler, batch_size=local_batch, workers=workers,
                                      pin_memory=pin, seed=cfg.seed + ctx.rank)
        self.counts = {"train": len(train_paths), "validation": len(val_paths),
                       "skipped_grayscale": len(self.split.get("skipped_grayscale", [])),
                       "skipped_unreadable": len(self.split.get("skipped_unreadable", []))}
        if ctx.is_main:
            bn = "SyncBatchNorm" if cfg.sync_bn and ctx.enabled else "per-rank BatchNorm statistics"
            dist_note = f", {ctx.world_size} processes ({bn})" if ctx.enabled else ""
            self.log(f"training {cfg.model} on {self.device} ({self.stepper.precision}{dist_note}): "
                     f"{cfg.image_size}x{cfg.image_size}, global batch {cfg.batch_size}, "
                     f"{self.train_sampler.steps_per_epoch} steps per epoch, {workers} loader workers per process")

    # -- loop ---------------------------------------------------------------------------------

    def _loop(self, start_epoch: int, partial: _Partial) -> TrainResult:
        cfg = self.config
        epoch = start_epoch
        if self._stop_any():  # asked to stop while scanning or setting up: nothing new to save
            self.log(f"stopped by {self.stop.reason} before training started; nothing to save")
            return self._result("interrupted", start_epoch)
        while epoch < cfg.epochs and self.early.bad_epochs < cfg.patience:
            epoch += 1
            outcome = self._epoch(epoch, partial)
            partial = _Partial()
            if outcome == "interrupted":
                return self._result("interrupted", epoch - 1)
            if self._stop_any() and epoch < cfg.epochs and self.early.bad_epochs < cfg.patience:
                self.log(f"stopped by {self.stop.reason} after epoch {epoch}; continue with --resume")
                return self._result("interrupted", epoch)
        status = "early_stopped" if self.early.bad_epochs >= cfg.patience else "finished"
        if status == "early_stopped":
            self.log(f"early stopping: no improvement for {self.early.bad_epochs} epochs; best epoch "
                     f"{self.early.best_epoch} (validation loss {self.early.best_val_loss:.6g})")
        return self._finish(status, epoch)

    def _stop_any(self) -> bool:
        """Whether any rank was asked to stop (all ranks get the same answer)."""
        if not self.ctx.enabled:
            return self.stop.requested
        t = torch.tensor([float(self.stop.requested)], device=self.device)
        dist.all_reduce(t)
        return bool(t.item() > 0)

    def _epoch(self, epoch: int, partial: _Partial) -> str:
        """Train and validate one epoch; "done" or "interrupted" (state saved)."""
        from tqdm import tqdm

        cfg, ctx, stepper = self.config, self.ctx, self.stepper
        steps = self.train_sampler.steps_per_epoch
        self.train_sampler.set_epoch(epoch, partial.step)
        loss_sum = torch.zeros((), device=self.device)  # this rank's sum of (mean loss x photos)
        photos_local = 0
        if ctx.is_main:  # the saved running sums are global: rank 0 carries them
            loss_sum += partial.loss_sum
            photos_local = partial.photos
        step = partial.step
        started = time.perf_counter() - partial.seconds
        bar = tqdm(total=steps, initial=step, desc=f"epoch {epoch}/{cfg.epochs}", unit="step", leave=False,
                   dynamic_ncols=True, disable=not (self.progress and ctx.is_main))
        run_start, run_photos = time.perf_counter(), 0
        global_sum, global_photos = partial.loss_sum, partial.photos
        try:
            for batch in self.train_loader:
                loss = stepper.train_step(batch)
                loss_sum += loss * batch.shape[0]
                photos_local += batch.shape[0]
                run_photos += batch.shape[0] * ctx.world_size
                step += 1
                bar.update(1)
                at_sync = step % SYNC_EVERY == 0 or step == steps
                if ctx.enabled and not at_sync:
                    continue  # ranks may only stop together, at sync points
                if at_sync or self.stop.requested:
                    global_sum, global_photos, stop_any = self._reduce(loss_sum, photos_local)
                    if not math.isfinite(global_sum):
                        self._diverged(epoch, step, steps)
                    bar.set_postfix(loss=f"{global_sum / max(global_photos, 1):.5f}",
                                    img_s=f"{run_photos / max(time.perf_counter() - run_start, 1e-9):.1f}")
                    if stop_any and step < steps:
                        self._save_partial(epoch, _Partial(step, global_sum, global_photos,
                                                           time.perf_counter() - started))
                        return "interrupted"
        finally:
            bar.close()
        train_seconds = time.perf_counter() - started
        train_loss = global_sum / global_photos

        if self.stop.requested and not ctx.enabled:  # not validated yet: resume will validate
            self._save_partial(epoch, _Partial(steps, global_sum, global_photos, train_seconds))
            return "interrupted"
        val_loss = self._validate(epoch)
        seconds = time.perf_counter() - started
        images_per_s = global_photos / max(train_seconds, 1e-9)
        row = {"epoch": epoch, "train_loss": train_loss, "val_loss": val_loss, "seconds": seconds,
               "images_per_s": images_per_s, "lr": float(stepper.optimizer.param_groups[0]["lr"])}
        self.history.append(row)
        improved = val_loss < self.early.best_val_loss - cfg.min_delta
        if improved:
            self.early = _EarlyStopping(val_loss, epoch, 0)
        else:
            self.early.bad_epochs += 1
        if not stepper.params_finite():
            self._diverged(epoch, steps, steps)
        if cfg.restart_from_best:
            if improved:
                self.best_state = {k: v.detach().clone() for k, v in stepper.model.state_dict().items()}
            elif self.best_state is not None:
                stepper.model.load_state_dict(self.best_state)  # the design notebook's behaviour
        self._save_epoch(epoch, improved)
        mark = " (best)" if improved else f" (best {self.early.best_val_loss:.6g} at epoch {self.early.best_epoch})"
        self.log(f"epoch {epoch}/{cfg.epochs}: train loss {train_loss:.6g}, validation loss {val_loss:.6g}{mark}, "
                 f"{seconds:.1f} s, {images_per_s:.1f} images/s")
        if self.on_epoch is not None:
            self.on_epoch(dict(row))
        return "done"

    def _reduce(self, loss_sum: torch.Tensor, photos: int) -> tuple[float, int, bool]:
        """Global (loss sum, photos, stop requested by any rank); the only host sync of the loop."""
        t = torch.stack([loss_sum.float(), torch.tensor(float(photos), device=self.device),
                         torch.tensor(float(self.stop.requested), device=self.device)])
        if self.ctx.enabled:
            dist.all_reduce(t)
        total, count, stop_any = t.tolist()
        return total, int(round(count)), stop_any > 0

    def _validate(self, epoch: int) -> float:
        stepper = self.stepper
        stepper.sync_buffers()
        self.val_sampler.set_epoch(epoch)
        sse = torch.zeros((), device=self.device, dtype=torch.float64)
        count = torch.zeros((), device=self.device, dtype=torch.float64)
        for batch in self.val_loader:
            s, n = stepper.eval_batch(batch)
            sse += s.double()
            count += n
        t = torch.stack([sse, count])
        if self.ctx.enabled:
            dist.all_reduce(t)
        total, n = t.tolist()
        val_loss = total / n
        if not math.isfinite(val_loss):
            self._diverged(epoch, self.train_sampler.steps_per_epoch, self.train_sampler.steps_per_epoch,
                           what="validation loss")
        return val_loss

    # -- saving ---------------------------------------------------------------------------------

    def _state(self, epoch: int, partial: _Partial | None) -> dict[str, Any]:
        stepper = self.stepper
        return {
            "state_dict": model_state_dict(stepper.model),
            "optimizer": _to_cpu(stepper.optimizer.state_dict()),
            "config": dataclasses.asdict(self.config),
            "epoch": epoch,  # completed epochs
            "partial": dataclasses.asdict(partial) if partial is not None else None,
            "early_stopping": dataclasses.asdict(self.early),
            "best_val_loss": self.early.best_val_loss,
            "history": [dict(r) for r in self.history],
            "rng": _rng_state(),
            "world_size": self.ctx.world_size,
            "data": dict(self.counts),
        }

    def _save_epoch(self, epoch: int, improved: bool) -> None:
        if self.ctx.is_main:
            save_checkpoint(self.last_path, self.config.model, self._state(epoch, None))
            if improved:
                _link_or_copy(self.last_path, self.best_path)
            _write_history(self.run_dir / "history.csv", self.history)
            _write_curve(self.run_dir / "loss_curve.png", self.history, self.early.best_epoch, self.config.model)
        self._barrier()

    def _save_partial(self, epoch: int, partial: _Partial) -> None:
        """Save the state after `partial.step` steps of `epoch` (interrupted) to last.pt."""
        if not self.stepper.params_finite():
            self._diverged(epoch, partial.step, self.train_sampler.steps_per_epoch)
        self.stepper.sync_buffers()
        if self.ctx.is_main:
            save_checkpoint(self.last_path, self.config.model, self._state(epoch - 1, partial))
        self._barrier()
        self.log(f"stopped by {self.stop.reason} at epoch {epoch}, step {partial.step}/"
                 f"{self.train_sampler.steps_per_epoch}; state saved to {self.last_path}; continue with --resume")

    def _barrier(self) -> None:
        if self.ctx.enabled:
            dist.barrier()

    def _diverged(self, epoch: int, step: int, steps: int, what: str = "training loss") -> None:
        if self.last_path.is_file():
            kept = f"the last good checkpoint {self.last_path} is kept"
        else:
            kept = "no checkpoint had been written yet"
        raise TrainingDiverged(f"{what} became NaN or infinite in epoch {epoch} (by step {step} of {steps}); "
                               f"training stopped and these weights were not saved; {kept}. "
                               f"Try a lower --lr (now {self.config.lr:g})")

    def _result(self, status: str, epochs_run: int, weights: Path | None = None) -> TrainResult:
        return TrainResult(run_dir=self.run_dir, status=status, epochs_run=epochs_run,
                           best_epoch=self.early.best_epoch, best_val_loss=self.early.best_val_loss,
                           history=tuple(dict(r) for r in self.history), weights_path=weights)

    def _finish(self, status: str, epochs_run: int) -> TrainResult:
        """Export the best weights and the model card (rank 0)."""
        cfg = self.config
        weights = self.run_dir / "model.safetensors"
        if self.ctx.is_main and self.best_path.is_file():
            from colorizekit import __version__

            best = load_checkpoint(self.best_path)
            card = {
                "model": cfg.model,
                "color_mode": get_model_info(cfg.model).color_mode,
                "data_dir": str(Path(cfg.data_dir).resolve()),
                "images": dict(self.counts),
                "epochs_run": epochs_run,
                "best_epoch": self.early.best_epoch,
                "best_val_loss": self.early.best_val_loss,
                "stopped": status,
                "image_size": cfg.image_size,
                "world_size": self.ctx.world_size,
                "colorizekit_version": __version__,
                "config": dataclasses.asdict(cfg),
            }
            export_weights(weights, cfg.model, best["state_dict"], card=card)
            atomic_write_text(self.run_dir / "model_card.json", json.dumps(card, indent=2, sort_keys=True) + "\n")
            self.log(f"{status.replace('_', ' ')} after {epochs_run} epochs; best epoch {self.early.best_epoch} "
                     f"(validation loss {self.early.best_val_loss:.6g}); weights: {weights}")
        self._barrier()
        return self._result(status, epochs_run, weights if self.best_path.is_file() else None)


# ----------------------------------------------------------------------------------------------
# Throughput (benchmarks/train_throughput.py)


def measure_throughput(model_name: str, batches: Iterable[torch.Tensor], *, steps: int, warmup: int = 3,
                       device: str = "auto", precision: str = "auto", compile: bool = False) -> float:
    """Training images per second of the real training step (`train`'s own code) on uint8 RGB batches
    (B, 3, S, S) from `batches` (re-iterated as needed); the first `warmup` steps are not timed."""
    device_t = _resolve_device(device, 0, False)
    if device_t.type == "cuda":
        torch.backends.cudnn.benchmark = True
    stepper = _Stepper(model_name, device_t, precision=precision, compile=compile)

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
