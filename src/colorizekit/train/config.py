"""What defines a training run (`TrainConfig`), which of it may change on resume, and how a run
ends (`TrainResult`, whose status is a `stopping.Outcome`, and the errors that stop it)."""

from __future__ import annotations

import dataclasses
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from colorizekit.color.bins import DEFAULT_REBALANCE
from colorizekit.hardware import PRECISIONS
from colorizekit.models import get_model_info
from colorizekit.train.losses import get_loss
from colorizekit.train.photocache import DEFAULT_CACHE_MB
from colorizekit.train.schedule import SCHEDULES
from colorizekit.train.stopping import Outcome
from colorizekit.weights import load_checkpoint


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
    workers: int | None = None  # DataLoader processes per rank; None: 0 when cached, else from the cores
    device: str = "auto"  # "auto" (CUDA if available), "cpu", "cuda", "cuda:1"...; torchrun: cuda:LOCAL_RANK
    precision: str = "auto"  # "bf16" autocast or "fp32"; "auto": bf16 where the hardware runs it natively
    compile: bool = False  # torch.compile the model
    sync_bn: bool = False  # SyncBatchNorm across ranks (CUDA only; default: per-rank statistics)
    restart_from_best: bool = False  # the design's notebook: reload best weights after a non-improving epoch
    deterministic: bool = False  # torch.use_deterministic_algorithms (reproducible bit for bit; slower)
    model_config: dict[str, Any] = field(default_factory=dict)  # options for create_model (e.g. width)
    loss: str | None = None  # registered loss (colorizekit.train.losses); None: the colour mode's default
    rebalance: float = DEFAULT_REBALANCE  # bins losses: lambda of the uniform mix in the class weights; 1: none
    schedule: str = "constant"  # learning rate: "constant" (design) or "cosine" (warm-up, then cosine decay)
    time_budget: float | None = None  # minutes this invocation may run; then it saves, exports and exits
    save_every: float = 10.0  # minutes between mid-epoch saves of last.pt (0: only at the end of epochs)
    cache_mb: int = DEFAULT_CACHE_MB  # RAM for decoded training photos (0: decode from disk every time)
    threads: int | None = None  # torch CPU threads per rank; None: the CPU cores per rank
    init_from: str | None = None  # weights or checkpoint of the same model to start a new run from
    pretrained: bool = True  # a new run starts the model's encoder from its pretrained weights (models with one)
    encoder_lr_scale: float = 1.0  # the encoder's learning rate, as a multiple of lr (models with an encoder)
    freeze_encoder: int = 0  # epochs at the start in which the encoder is frozen (weights and BatchNorm statistics)

    def __post_init__(self) -> None:
        info = get_model_info(self.model)  # ValueError naming the known models
        for name in ("epochs", "batch_size", "image_size"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive integer; got {value!r}")
        if self.image_size % info.size_multiple:
            lower = max(info.size_multiple, self.image_size // info.size_multiple * info.size_multiple)
            raise ValueError(f"image size {self.image_size} is not a multiple of {info.size_multiple}, which model "
                             f"{self.model!r} needs; use e.g. {lower} or {lower + info.size_multiple}")
        checks = [
            (self.lr > 0 and math.isfinite(self.lr), f"learning rate must be a positive number; got {self.lr!r}"),
            (self.weight_decay >= 0, f"weight decay must be >= 0; got {self.weight_decay!r}"),
            (self.patience >= 1, f"patience must be at least 1 epoch; got {self.patience!r}"),
            (self.min_delta >= 0, f"min_delta must be >= 0; got {self.min_delta!r}"),
            (0.0 < self.val_fraction < 1.0,
             f"validation fraction must be between 0 and 1 (exclusive); got {self.val_fraction!r}"),
            (self.resize in ("crop", "squash"), f"resize must be 'crop' or 'squash'; got {self.resize!r}"),
            (self.workers is None or self.workers >= 0, f"workers must be >= 0; got {self.workers!r}"),
            (self.precision in PRECISIONS,
             f"precision must be one of {', '.join(PRECISIONS)}; got {self.precision!r}"),
            (0.0 < self.rebalance <= 1.0, f"rebalance (lambda) must be in (0, 1], 1 meaning none; got {self.rebalance!r}"),
            (self.schedule in SCHEDULES, f"schedule must be one of {', '.join(SCHEDULES)}; got {self.schedule!r}"),
            (self.time_budget is None or self.time_budget > 0, f"time budget must be positive; got {self.time_budget!r}"),
            (self.save_every >= 0, f"save_every must be >= 0 minutes; got {self.save_every!r}"),
            (self.cache_mb >= 0, f"cache_mb must be >= 0; got {self.cache_mb!r}"),
            (self.threads is None or self.threads >= 1, f"threads must be >= 1; got {self.threads!r}"),
            (isinstance(self.encoder_lr_scale, (int, float)) and not isinstance(self.encoder_lr_scale, bool)
             and self.encoder_lr_scale > 0
             and math.isfinite(self.encoder_lr_scale),
             f"encoder lr scale must be a positive number (use freeze_encoder to freeze); got {self.encoder_lr_scale!r}"),
            (isinstance(self.freeze_encoder, int) and not isinstance(self.freeze_encoder, bool)
             and self.freeze_encoder >= 0,
             f"freeze_encoder must be a whole number of epochs >= 0; got {self.freeze_encoder!r}"),
        ]
        for ok, message in checks:
            if not ok:
                raise ValueError(message)
        get_loss(self.loss or info.mode.default_loss)  # ValueError naming the known losses

    @classmethod
    def from_run(cls, out_dir: str | os.PathLike, **overrides: Any) -> TrainConfig:
        """The config saved in `out_dir/last.pt`, with `overrides` applied: what a resume uses.
        Raises FileNotFoundError when there is no checkpoint, ValueError when `model` differs."""
        path = Path(out_dir) / "last.pt"
        if not path.is_file():
            raise FileNotFoundError(f"{path}: no checkpoint to resume from")
        try:  # mmap: only the small config is read, not the weights
            payload = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
        except Exception:
            payload = load_checkpoint(path)
        names = {f.name for f in dataclasses.fields(cls)}
        saved = {k: v for k, v in payload.get("config", {}).items() if k in names}
        model = overrides.get("model")
        if model is not None and model != saved.get("model"):
            raise ValueError(f"{out_dir} holds a run of model {saved.get('model')!r}, not {model!r}; "
                             f"resume it with --model {saved.get('model')} or choose another --out folder")
        return cls(**{**saved, "out_dir": str(out_dir), **overrides})


# Fields that may differ between a checkpoint's config and the config a run is resumed with.
RESUMABLE_CHANGES = frozenset({"data_dir", "out_dir", "epochs", "patience", "workers", "device", "precision",
                               "compile", "deterministic", "image_size", "batch_size", "schedule", "time_budget",
                               "save_every", "cache_mb", "threads", "init_from", "pretrained", "encoder_lr_scale",
                               "freeze_encoder"})


@dataclass(frozen=True)
class TrainResult:
    """How a call to `train` ended."""

    run_dir: Path  # the run folder
    status: Outcome  # FINISHED (all epochs), EARLY_STOPPED, BUDGET_SPENT or INTERRUPTED (resume later)
    epochs_run: int  # completed epochs, including those before a resume
    best_epoch: int  # epoch of the lowest validation loss (0 if none completed)
    best_val_loss: float  # that loss (inf if none completed)
    history: tuple[dict[str, float], ...]  # one row per completed epoch (see runfiles.HISTORY_FIELDS)
    weights_path: Path | None  # model.safetensors: the best weights so far, exported when the run ended or stopped


class TrainingDiverged(RuntimeError):
    """The loss became NaN or infinite; the run stopped and kept its last good checkpoint."""


class DataFailure(RuntimeError):
    """Too many photos could not be read; the run stopped (the last checkpoint is kept)."""


def check_resume(payload: dict[str, Any], config: TrainConfig, path: Path) -> None:
    if payload.get("model") != config.model:
        raise ValueError(f"{path} is a checkpoint for model {payload.get('model')!r}, not {config.model!r}; "
                         f"resume with --model {payload.get('model')} or choose another --out folder")
    saved = payload.get("config", {})
    changed = [f"{f.name} {saved[f.name]!r} -> {getattr(config, f.name)!r}" for f in dataclasses.fields(config)
               if f.name in saved and f.name not in RESUMABLE_CHANGES and saved[f.name] != getattr(config, f.name)]
    if changed:
        raise ValueError(f"{path}: cannot resume with different settings ({'; '.join(changed)}); "
                         f"only {', '.join(sorted(RESUMABLE_CHANGES))} may change")
