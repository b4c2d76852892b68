"""Training: the design's recipe by default; fast on CPUs and GPUs, resumable, interruptible at any
moment, time-budgeted, and distributed with torchrun.

`train(TrainConfig(data_dir, model, out_dir))` reproduces the design by default: 128 x 128 photos,
batch 32, the model's colour-mode loss (MSE for the design's models), Adam (lr 1e-3, weight decay
1e-7), up to 100 epochs, early stopping on the mean validation loss (patience 10, delta 0), split
80/20 after a shuffle with seed 44. The run folder gets `last.pt` (after every epoch, and every
`save_every` minutes in between), `best.pt`, `history.csv`, `loss_curve.png`, and at the end
`model.safetensors` with `model_card.json` (see `colorizekit.runfiles`).

The loop, top to bottom: scan and split the photos; build the model, optimizer and loss
(`colorizekit.trainstep`); load a checkpoint (`resume`) or weights (`init_from`); decode the photos
once into a RAM cache (`colorizekit.photocache`); measure the colour prior when the model's mode needs
one; then epochs of training steps and a validation, saving as it goes, until the epochs run out,
early stopping triggers, the time budget is spent, or a stop is asked for.

Resuming (`resume=True`) continues exactly: the sampler order and every random crop depend only on
(seed, epoch, index), and model, optimizer, early stopping, schedule, history and RNG states come
from `last.pt`. Ctrl-C or SIGTERM finishes the step in progress, saves and returns (under torchrun:
at the next read-back, at most SYNC_EVERY steps, so that all ranks stop together); a second Ctrl-C
aborts. `image_size` and `batch_size` may change on resume (progressive training, e.g. 64 then 128
px). A NaN or infinite loss raises `TrainingDiverged` and keeps the last good checkpoint.
Distributed: ranks use DistributedDataParallel; `batch_size` is the global batch; validation losses
are summed over ranks, so the mean is the single-process one; only rank 0 writes files.
"""

from __future__ import annotations

import dataclasses
import math
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from colorizekit import distributed as D
from colorizekit.bins import DEFAULT_REBALANCE
from colorizekit.checkpoint import export_weights, load_checkpoint, load_weights, model_state_dict, save_checkpoint
from colorizekit.defaults import PRECISIONS, cpu_cores
from colorizekit.losses import get_loss
from colorizekit.models import get_model_info
from colorizekit.photocache import CACHE_SCALE, DEFAULT_CACHE_MB, PhotoCache
from colorizekit.runfiles import (link_or_copy, prepare_split, rng_state, set_rng_state, to_cpu, write_card,
                                  write_curve, write_history)
from colorizekit.schedule import SCHEDULES, Schedule
from colorizekit.stopping import Clock, EarlyStopping, StopRequest
from colorizekit.trainstep import Stepper

SYNC_EVERY = 25  # training steps between read-backs of the loss (progress bar, NaN check, stop agreement)
MAX_SKIPPED_SHARE = 0.5  # a run stops when more than this share of an epoch's photos cannot be read
PRIOR_PHOTOS = 4000  # training photos on which a colour prior is measured


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
    loss: str | None = None  # registered loss (colorizekit.losses); None: the colour mode's default
    rebalance: float = DEFAULT_REBALANCE  # bins losses: lambda of the uniform mix in the class weights; 1: none
    schedule: str = "constant"  # learning rate: "constant" (design) or "cosine" (warm-up, then cosine decay)
    time_budget: float | None = None  # minutes this invocation may run; then it saves, exports and exits
    save_every: float = 10.0  # minutes between mid-epoch saves of last.pt (0: only at the end of epochs)
    cache_mb: int = DEFAULT_CACHE_MB  # RAM for decoded training photos (0: decode from disk every time)
    threads: int | None = None  # torch CPU threads per rank; None: the CPU cores per rank
    init_from: str | None = None  # weights or checkpoint of the same model to start a new run from

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
                               "save_every", "cache_mb", "threads", "init_from"})


@dataclass(frozen=True)
class TrainResult:
    """How a call to `train` ended."""

    run_dir: Path  # the run folder
    status: str  # "finished" (all epochs), "early_stopped", "budget_spent", or "interrupted" (resume later)
    epochs_run: int  # completed epochs, including those before a resume
    best_epoch: int  # epoch of the lowest validation loss (0 if none completed)
    best_val_loss: float  # that loss (inf if none completed)
    history: tuple[dict[str, float], ...]  # one row per completed epoch (see runfiles.HISTORY_FIELDS)
    weights_path: Path | None  # model.safetensors, exported when the run ended (None if interrupted)


class TrainingDiverged(RuntimeError):
    """The loss became NaN or infinite; the run stopped and kept its last good checkpoint."""


class DataFailure(RuntimeError):
    """Too many photos could not be read; the run stopped (the last checkpoint is kept)."""


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
    messages), TrainingDiverged when the loss stops being finite and DataFailure when most photos
    cannot be read.
    """
    ctx, device = D.setup_distributed(config.device)
    previous = (torch.are_deterministic_algorithms_enabled(), torch.backends.cudnn.benchmark, torch.get_num_threads())
    run = None
    try:
        if config.deterministic:
            if device.type == "cuda":
                os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
            torch.use_deterministic_algorithms(True)
        torch.backends.cudnn.benchmark = device.type == "cuda" and not config.deterministic
        if device.type == "cpu" and config.threads is not None:
            torch.set_num_threads(config.threads)
        with StopRequest(stop, announce=ctx.is_main) as stop_request:
            run = _Run(config, ctx, device, resume, progress, stop_request, on_epoch)
            return run.run()
    finally:
        if run is not None:
            run.close()
        torch.use_deterministic_algorithms(previous[0])
        torch.backends.cudnn.benchmark = previous[1]
        torch.set_num_threads(previous[2])
        D.teardown(ctx)


@dataclass
class _Partial:
    """Progress inside an epoch, saved when a run stops or saves mid-epoch."""

    step: int = 0  # global steps done in this epoch
    loss_sum: float = 0.0  # sum over done steps of (mean loss x photos), all ranks
    photos: int = 0  # photos trained on in this epoch, all ranks
    seconds: float = 0.0  # time spent on this epoch before the save
    skipped: int = 0  # photos that could not be read in this epoch, all ranks


@dataclass
class _EpochState:
    """Running sums of the epoch in progress (this rank's, plus rank 0's share of a resumed epoch)."""

    epoch: int
    step: int
    loss_sum: torch.Tensor
    photos: int
    skipped: int
    started: float
    waited: float = 0.0  # seconds spent waiting for batches
    global_sum: float = 0.0
    global_photos: int = 0
    global_skipped: int = 0

    def partial(self) -> _Partial:
        return _Partial(self.step, self.global_sum, self.global_photos, time.perf_counter() - self.started,
                        self.global_skipped)


@dataclass
class _Run:
    config: TrainConfig
    ctx: D.Dist
    device: torch.device
    resume: bool
    progress: bool
    stop: StopRequest
    on_epoch: Callable[[dict[str, float]], None] | None
    history: list[dict[str, float]] = field(default_factory=list)
    early: EarlyStopping = field(default_factory=EarlyStopping)
    loaders: list[Any] = field(default_factory=list)

    def log(self, message: str) -> None:
        if self.ctx.is_main:
            from tqdm import tqdm

            tqdm.write(message)

    def close(self) -> None:
        from colorizekit.data import close_loader

        for loader in self.loaders:
            close_loader(loader)

    # -- set-up -------------------------------------------------------------------------------

    def run(self) -> TrainResult:
        cfg, ctx = self.config, self.ctx
        self.clock = Clock(cfg.time_budget, cfg.save_every)
        self.run_dir = Path(cfg.out_dir)
        self.last_path, self.best_path = self.run_dir / "last.pt", self.run_dir / "best.pt"
        if cfg.batch_size % ctx.world_size:
            raise ValueError(f"batch size {cfg.batch_size} (global) does not divide evenly across "
                             f"{ctx.world_size} processes")
        payload = self._load_resume_payload()
        self.split = prepare_split(cfg.data_dir, cfg.val_fraction, cfg.seed, self.run_dir, self.resume, ctx,
                                   self.progress, self.log)
        self._build_stepper(payload)
        self._build_data()
        if payload is None and cfg.init_from is None:
            self._fit_mode()
        self.stepper.set_loss_options(rebalance=cfg.rebalance)
        start_epoch, partial = self._restore(payload)
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

    def _build_stepper(self, payload: dict[str, Any] | None) -> None:
        cfg = self.config
        self.stepper = Stepper(cfg.model, self.device, model_config=cfg.model_config, loss=cfg.loss,
                               precision=cfg.precision, lr=cfg.lr, weight_decay=cfg.weight_decay,
                               compile=cfg.compile, ctx=self.ctx, sync_bn=cfg.sync_bn, seed=cfg.seed)
        model = self.stepper.model
        if payload is not None:
            model.load_state_dict(payload["state_dict"])
            self.stepper.optimizer.load_state_dict(payload["optimizer"])
        elif cfg.init_from is not None:
            weights = load_weights(cfg.init_from, expected_model=cfg.model)
            if weights.model_config != dict(cfg.model_config):
                raise ValueError(f"{cfg.init_from}: weights of model config {weights.model_config}, not "
                                 f"{dict(cfg.model_config)}")
            model.load_state_dict(weights.state_dict)
            self.log(f"initialised from {cfg.init_from}")
        self.best_state = None
        if cfg.restart_from_best and payload is not None and self.best_path.is_file():
            self.best_state = load_checkpoint(self.best_path)["state_dict"]
        stepper = self.stepper
        self.log(f"training {cfg.model} on {self.device}: {stepper.precision} ({stepper.precision_reason}), "
                 f"{_plural(torch.get_num_threads(), 'thread')}, loss {stepper.loss_name}"
                 + (f", model config {dict(cfg.model_config)}" if cfg.model_config else ""))

    def _build_data(self) -> None:
        from colorizekit.data import PhotoDataset, ShardSampler, make_loader

        cfg, ctx = self.config, self.ctx
        root = Path(cfg.data_dir)
        train_paths = [root / p for p in self.split["train"]]
        val_paths = [root / p for p in self.split["val"]]
        if self.resume:
            self._check_split_present(root, train_paths + val_paths)
        caches = self._fill_caches(train_paths, val_paths)
        cached_all = all(c is not None and c.cached + len(c.failed) == len(c.paths) for c in caches)
        workers = cfg.workers if cfg.workers is not None else _default_workers(self.device, cached_all, ctx)
        pin = self.device.type == "cuda"
        local_batch = cfg.batch_size // ctx.world_size
        self.train_sampler = ShardSampler(len(train_paths), global_batch=cfg.batch_size, rank=ctx.rank,
                                          world_size=ctx.world_size, shuffle=True, drop_last=True, seed=cfg.seed)
        if self.train_sampler.steps_per_epoch == 0:
            raise ValueError(f"the training set has {len(train_paths)} photos, fewer than one batch of "
                             f"{cfg.batch_size}; lower --batch-size or add photos")
        self.val_sampler = ShardSampler(len(val_paths), global_batch=cfg.batch_size, rank=ctx.rank,
                                        world_size=ctx.world_size, shuffle=False, drop_last=False, seed=cfg.seed)
        self.train_set = PhotoDataset(train_paths, cfg.image_size, train=True, resize=cfg.resize, seed=cfg.seed,
                                      cache=caches[0])
        self.val_set = PhotoDataset(val_paths, cfg.image_size, train=False, resize=cfg.resize, seed=cfg.seed,
                                    cache=caches[1])
        self.train_loader = make_loader(self.train_set, self.train_sampler, batch_size=local_batch,
                                        workers=workers, pin_memory=pin, seed=cfg.seed + ctx.rank)
        self.val_loader = make_loader(self.val_set, self.val_sampler, batch_size=local_batch, workers=workers,
                                      pin_memory=pin, seed=cfg.seed + ctx.rank)
        self.loaders = [self.train_loader, self.val_loader]
        self.counts = {"train": len(train_paths), "validation": len(val_paths),
                       "skipped_grayscale": len(self.split.get("skipped_grayscale", [])),
                       "skipped_unreadable": len(self.split.get("skipped_unreadable", []))}
        bn = "SyncBatchNorm" if cfg.sync_bn and ctx.enabled else "per-rank BatchNorm statistics"
        dist_note = f", {ctx.world_size} processes ({bn})" if ctx.enabled else ""
        self.log(f"{cfg.image_size}x{cfg.image_size}, global batch {cfg.batch_size}, "
                 f"{self.train_sampler.steps_per_epoch} steps per epoch, {workers} loader workers per process"
                 f"{dist_note}")

    def _check_split_present(self, root: Path, paths: list[Path]) -> None:
        """On resume, most of the saved split must still be there (a few missing photos are skipped)."""
        problem = None
        if self.ctx.is_main:
            missing = [p for p in paths if not p.is_file()]
            if len(missing) > MAX_SKIPPED_SHARE * len(paths):
                problem = (f"{len(missing)} of the {len(paths)} photos of the saved split are missing under "
                           f"{root} (first: {missing[0]})")
            elif missing:
                self.log(f"warning: {len(missing)} photos of the saved split are missing (first: {missing[0]}); "
                         f"they are skipped")
        problem = D.broadcast_object(problem, self.ctx)
        if problem:
            raise FileNotFoundError(problem)

    def _fill_caches(self, train_paths: list[Path], val_paths: list[Path]) -> list[PhotoCache | None]:
        cfg = self.config
        if cfg.cache_mb == 0:
            return [None, None]
        limit = cfg.cache_mb * 2**20 // self.ctx.local_world_size
        total = len(train_paths) + len(val_paths)
        caches = []
        for paths in (train_paths, val_paths):
            cache = PhotoCache(paths, CACHE_SCALE * cfg.image_size, max(1, limit * len(paths) // total))
            cache.fill(threads=cpu_cores(), progress=self.progress and self.ctx.is_main)
            caches.append(cache)
        self.log(f"data cache: training {caches[0].describe()}; validation {caches[1].describe()}")
        return caches

    def _fit_mode(self) -> None:
        """Let the colour mode measure what it needs on the training photos (e.g. a colour prior)."""
        from colorizekit.data import PhotoDataset, collate_photos

        cfg = self.config
        count = min(len(self.train_set), PRIOR_PHOTOS)
        photos = PhotoDataset(self.train_set.paths[:count], cfg.image_size, train=False, resize=cfg.resize,
                              seed=cfg.seed, cache=self.train_set.cache)

        def batches():
            for start in range(0, count, 64):
                batch, _ = collate_photos([photos[i] for i in range(start, min(count, start + 64))])
                if batch is not None:
                    yield batch

        self.stepper.mode.fit(self.stepper.model, batches(), log=self.log)
        D.broadcast_buffers(self.stepper.model, self.ctx)

    def _restore(self, payload: dict[str, Any] | None) -> tuple[int, _Partial]:
        """Epoch, partial epoch, early stopping, history, schedule, step and RNG state of a resumed run."""
        cfg = self.config
        steps = self.train_sampler.steps_per_epoch
        self.global_step = 0
        start_epoch, partial, saved_schedule = 0, _Partial(), None
        if payload is not None:
            start_epoch = int(payload["epoch"])
            partial = _Partial(**payload["partial"]) if payload.get("partial") else _Partial()
            self.early = EarlyStopping(**payload["early_stopping"])
            self.history = [dict(r) for r in payload.get("history", [])]
            self.global_step = int(payload.get("global_step", start_epoch * steps + partial.step))
            saved_schedule = payload.get("schedule")
            old_batch = int(payload["config"]["batch_size"])
            if old_batch != cfg.batch_size or int(payload["config"]["image_size"]) != cfg.image_size:
                self.log(f"resuming with batch {old_batch} -> {cfg.batch_size}, image size "
                         f"{payload['config']['image_size']} -> {cfg.image_size}")
                partial.step = min(steps, partial.step * old_batch // cfg.batch_size)
                saved_schedule = None  # steps changed meaning: a new schedule
            set_rng_state(payload["rng"])
            where = f"epoch {start_epoch + 1}, step {partial.step}" if partial.step else f"epoch {start_epoch + 1}"
            self.log(f"resuming {self.last_path} at {where}")
        self.schedule = self._make_schedule(saved_schedule, start_epoch, partial.step)
        return start_epoch, partial

    def _make_schedule(self, saved: dict[str, Any] | None, start_epoch: int, start_step: int) -> Schedule:
        cfg = self.config
        if saved is not None and saved.get("kind") == cfg.schedule:
            schedule = Schedule(**saved)
            if not schedule.finished(self.global_step) and (schedule.end_step is not None or cfg.time_budget):
                return schedule
        if cfg.schedule == "constant" or cfg.time_budget is not None:
            schedule = Schedule.over_steps(cfg.schedule, cfg.lr, self.global_step, None)
        else:
            steps = self.train_sampler.steps_per_epoch
            remaining = (cfg.epochs - start_epoch) * steps - start_step
            schedule = Schedule.over_steps(cfg.schedule, cfg.lr, self.global_step, max(1, remaining))
        if cfg.schedule == "cosine":
            span = "the time budget" if schedule.end_step is None else f"{schedule.end_step - self.global_step} steps"
            self.log(f"learning rate: cosine from {cfg.lr:g} over {span} after {schedule.warmup} warm-up steps")
        return schedule

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
            if outcome == "budget_spent":
                return self._budget_spent(epoch - 1)
            more = epoch < cfg.epochs and self.early.bad_epochs < cfg.patience
            if more and self._stop_any():
                self.log(f"stopped by {self.stop.reason} after epoch {epoch}; continue with --resume")
                return self._result("interrupted", epoch)
            if more and D.any_rank(self.clock.budget_spent(), self.ctx, self.device):
                self._end_schedule()
                if self.ctx.is_main:
                    self._save(epoch, None)
                return self._budget_spent(epoch)
        status = "early_stopped" if self.early.bad_epochs >= cfg.patience else "finished"
        if status == "early_stopped":
            self.log(f"early stopping: no improvement for {_plural(self.early.bad_epochs, 'epoch')}; best epoch "
                     f"{self.early.best_epoch} (validation loss {self.early.best_val_loss:.6g})")
        return self._finish(status, epoch)

    def _stop_any(self) -> bool:
        """Whether any rank was asked to stop (all ranks get the same answer)."""
        return D.any_rank(self.stop.requested, self.ctx, self.device)

    def _epoch(self, epoch: int, partial: _Partial) -> str:
        """Train and validate one epoch: "done", "interrupted" or "budget_spent" (state saved)."""
        from tqdm import tqdm

        ctx, steps = self.ctx, self.train_sampler.steps_per_epoch
        self.train_sampler.set_epoch(epoch, partial.step)
        st = _EpochState(epoch, partial.step, torch.zeros((), device=self.device), 0, 0,
                         time.perf_counter() - partial.seconds, global_sum=partial.loss_sum,
                         global_photos=partial.photos, global_skipped=partial.skipped)
        if ctx.is_main:  # the saved running sums are global: rank 0 carries them
            st.loss_sum += partial.loss_sum
            st.photos, st.skipped = partial.photos, partial.skipped
        bar = tqdm(total=steps, initial=st.step, desc=f"epoch {epoch}/{self.config.epochs}", unit="step",
                   leave=False, dynamic_ncols=True, disable=not (self.progress and ctx.is_main))
        try:
            outcome = self._train_steps(st, bar)
        finally:
            bar.close()
        if outcome != "done":
            return outcome
        if self.stop.requested and not ctx.enabled:  # not validated yet: resume will validate
            self._save_partial(epoch, st.partial())
            return "interrupted"
        self._end_epoch(st)
        return "done"

    def _train_steps(self, st: _EpochState, bar: Any) -> str:
        """The training steps of one epoch, with read-backs, timed saves and the time budget."""
        ctx, stepper, steps = self.ctx, self.stepper, self.train_sampler.steps_per_epoch
        run_start, run_photos = time.perf_counter(), 0
        iterator = iter(self.train_loader)
        while True:
            t0 = time.perf_counter()
            item = next(iterator, None)
            st.waited += time.perf_counter() - t0
            if item is None:
                break
            batch, skipped = item
            st.skipped += skipped
            if batch is not None:
                stepper.set_lr(self.schedule.lr(self.global_step))
                st.loss_sum += stepper.train_step(batch) * batch.shape[0]
                st.photos += batch.shape[0]
                run_photos += batch.shape[0] * ctx.world_size
            st.step += 1
            self.global_step += 1
            bar.update(1)
            at_sync = st.step % SYNC_EVERY == 0 or st.step == steps
            if ctx.enabled and not at_sync:
                continue  # ranks may only stop together, at sync points
            if not (at_sync or self.stop.requested or self.clock.save_due() or self.clock.budget_spent()):
                continue
            rate = run_photos / max(time.perf_counter() - run_start, 1e-9)
            outcome = self._sync_point(st, bar, rate)
            if outcome != "continue":
                return outcome
        return "done"

    def _sync_point(self, st: _EpochState, bar: Any, rate: float) -> str:
        """Read the loss back; check it, the data, the schedule, stops, saves and the budget."""
        steps = self.train_sampler.steps_per_epoch
        st.global_sum, st.global_photos, st.global_skipped, stop_any, budget = self._reduce(st)
        if not math.isfinite(st.global_sum):
            self._diverged(st.epoch, st.step, steps)
        attempted = st.global_photos + st.global_skipped
        if st.global_skipped > MAX_SKIPPED_SHARE * attempted and attempted >= 2 * self.config.batch_size:
            raise DataFailure(f"{st.global_skipped} of the {attempted} photos loaded in epoch {st.epoch} could not "
                              f"be read (see the warnings above); training stopped, the last checkpoint "
                              f"{self.last_path} is kept")
        if self.schedule.end_step is None and self.schedule.kind == "cosine":
            elapsed_steps = self.global_step - self.schedule.start_step
            if elapsed_steps >= SYNC_EVERY * 2:
                self.schedule.calibrate(self.global_step, rate / self.config.batch_size, self._train_seconds_left())
        bar.set_postfix(loss=f"{st.global_sum / max(st.global_photos, 1):.5f}", img_s=f"{rate:.1f}")
        if st.step >= steps:
            return "continue"  # the epoch ends here: validation and the epoch's save follow
        if stop_any:
            self._save_partial(st.epoch, st.partial())
            return "interrupted"
        if budget:
            self._end_schedule()
            self._save_partial(st.epoch, st.partial(), announce=False)
            return "budget_spent"
        if self.clock.save_due():
            self._save_partial(st.epoch, st.partial(), announce=False)
        return "continue"

    def _train_seconds_left(self) -> float:
        """The budget's remaining seconds, less the share that validations took in the last epoch."""
        left = self.clock.seconds_left()
        if not self.history:
            return 0.9 * left
        last = self.history[-1]
        train_seconds = self.counts["train"] / max(last["images_per_s"], 1e-9)
        return left * min(1.0, train_seconds / max(last["seconds"], 1e-9))

    def _end_schedule(self) -> None:
        """A budget ends this invocation's cosine cycle: a resume starts a new one (a warm restart)."""
        if self.schedule.kind == "cosine":
            self.schedule.end_step = self.global_step

    def _reduce(self, st: _EpochState) -> tuple[float, int, int, bool, bool]:
        """Global (loss sum, photos, skipped, stop asked on any rank, budget spent on any rank)."""
        t = torch.stack([st.loss_sum.float(), *(torch.tensor(float(v), device=self.device) for v in
                         (st.photos, st.skipped, self.stop.requested, self.clock.budget_spent()))])
        total, count, skipped, stop_any, budget = D.all_reduce_sum(t, self.ctx).tolist()
        return total, int(round(count)), int(round(skipped)), stop_any > 0, budget > 0

    def _end_epoch(self, st: _EpochState) -> None:
        cfg, stepper, epoch = self.config, self.stepper, st.epoch
        train_seconds = time.perf_counter() - st.started
        train_loss = st.global_sum / max(st.global_photos, 1)
        val_loss = self._validate(epoch)
        seconds = time.perf_counter() - st.started
        row = {"epoch": epoch, "train_loss": train_loss, "val_loss": val_loss, "seconds": seconds,
               "images_per_s": st.global_photos / max(train_seconds, 1e-9),
               "lr": float(stepper.optimizer.param_groups[0]["lr"])}
        self.history.append(row)
        improved = val_loss < self.early.best_val_loss - cfg.min_delta
        if improved:
            self.early = EarlyStopping(val_loss, epoch, 0)
        else:
            self.early.bad_epochs += 1
        if not stepper.params_finite():
            self._diverged(epoch, st.step, st.step)
        if cfg.restart_from_best:
            if improved:
                self.best_state = {k: v.detach().clone() for k, v in stepper.model.state_dict().items()}
            elif self.best_state is not None:
                stepper.model.load_state_dict(self.best_state)  # the design notebook's behaviour
        self._save_epoch(epoch, improved)
        mark = " (best)" if improved else f" (best {self.early.best_val_loss:.6g} at epoch {self.early.best_epoch})"
        skipped = f", {_plural(st.global_skipped, 'photo')} skipped (unreadable)" if st.global_skipped else ""
        waited = 100.0 * st.waited / max(train_seconds, 1e-9)
        self.log(f"epoch {epoch}/{cfg.epochs}: train loss {train_loss:.6g}, validation loss {val_loss:.6g}{mark}, "
                 f"{seconds:.1f} s, {row['images_per_s']:.1f} images/s, {waited:.1f} % of step time waiting "
                 f"for data{skipped}")
        if self.on_epoch is not None:
            self.on_epoch(dict(row))

    def _validate(self, epoch: int) -> float:
        stepper = self.stepper
        stepper.sync_buffers()
        self.val_sampler.set_epoch(epoch)
        total = torch.zeros((), device=self.device, dtype=torch.float64)
        count = torch.zeros((), device=self.device, dtype=torch.float64)
        for batch, _skipped in self.val_loader:
            if batch is None:
                continue
            s, n = stepper.eval_batch(batch)
            total += s.double()
            count += n
        total, n = D.all_reduce_sum(torch.stack([total, count]), self.ctx).tolist()
        if n == 0:
            raise DataFailure(f"no validation photo could be read in epoch {epoch}; training stopped, the last "
                              f"checkpoint {self.last_path} is kept")
        val_loss = total / n
        if not math.isfinite(val_loss):
            steps = self.train_sampler.steps_per_epoch
            self._diverged(epoch, steps, steps, what="validation loss")
        return val_loss

    # -- saving ---------------------------------------------------------------------------------

    def _state(self, epoch: int, partial: _Partial | None) -> dict[str, Any]:
        stepper = self.stepper
        return {
            "state_dict": model_state_dict(stepper.model),
            "optimizer": to_cpu(stepper.optimizer.state_dict()),
            "config": dataclasses.asdict(self.config),
            "epoch": epoch,  # completed epochs
            "partial": dataclasses.asdict(partial) if partial is not None else None,
            "early_stopping": dataclasses.asdict(self.early),
            "best_val_loss": self.early.best_val_loss,
            "history": [dict(r) for r in self.history],
            "global_step": self.global_step,
            "schedule": self.schedule.state(),
            "rng": rng_state(),
            "world_size": self.ctx.world_size,
            "data": dict(self.counts),
        }

    def _save(self, epoch: int, partial: _Partial | None) -> None:
        save_checkpoint(self.last_path, self.config.model, self._state(epoch, partial),
                        model_config=self.config.model_config)
        self.clock.saved()

    def _save_epoch(self, epoch: int, improved: bool) -> None:
        if self.ctx.is_main:
            self._save(epoch, None)
            if improved:
                link_or_copy(self.last_path, self.best_path)
            write_history(self.run_dir / "history.csv", self.history)
            write_curve(self.run_dir / "loss_curve.png", self.history, self.early.best_epoch, self.config.model,
                        self.stepper.loss_name)
        D.barrier(self.ctx)

    def _save_partial(self, epoch: int, partial: _Partial, announce: bool = True) -> None:
        """Save the state after `partial.step` steps of `epoch` to last.pt (a stop, or a timed save)."""
        if not self.stepper.params_finite():
            self._diverged(epoch, partial.step, self.train_sampler.steps_per_epoch)
        self.stepper.sync_buffers()
        if self.ctx.is_main:
            self._save(epoch - 1, partial)
        D.barrier(self.ctx)
        if announce:
            self.log(f"stopped by {self.stop.reason} at epoch {epoch}, step {partial.step}/"
                     f"{self.train_sampler.steps_per_epoch}; state saved to {self.last_path}; continue with --resume")

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

    def _budget_spent(self, epochs_run: int) -> TrainResult:
        cfg = self.config
        if self.ctx.is_main and self.history:
            write_history(self.run_dir / "history.csv", self.history)
        result = self._finish("budget_spent", epochs_run)
        self.log(f"time budget of {cfg.time_budget:g} minutes spent; continue with: colorizekit train "
                 f"{cfg.data_dir} --model {cfg.model} --out {cfg.out_dir} --resume [--time-budget MINUTES]")
        return result

    def _finish(self, status: str, epochs_run: int) -> TrainResult:
        """Export the best weights so far (or, before any validation, the current ones) and the card."""
        cfg = self.config
        weights = self.run_dir / "model.safetensors"
        if self.ctx.is_main:
            from colorizekit import __version__

            if self.best_path.is_file():
                state, source = load_checkpoint(self.best_path)["state_dict"], "best validated epoch"
            else:
                state, source = model_state_dict(self.stepper.model), "current weights (no validation yet)"
            card = {
                "model": cfg.model, "model_config": dict(cfg.model_config),
                "color_mode": get_model_info(cfg.model).color_mode, "loss": self.stepper.loss_name,
                "data_dir": str(Path(cfg.data_dir).resolve()), "images": dict(self.counts),
                "epochs_run": epochs_run, "best_epoch": self.early.best_epoch,
                "best_val_loss": self.early.best_val_loss, "stopped": status, "weights_from": source,
                "image_size": cfg.image_size, "world_size": self.ctx.world_size, "global_step": self.global_step,
                "precision": self.stepper.precision, "colorizekit_version": __version__,
                "config": dataclasses.asdict(cfg),
            }
            export_weights(weights, cfg.model, state, card=card, model_config=cfg.model_config)
            write_card(self.run_dir, card)
            self.log(f"{status.replace('_', ' ')} after {_plural(epochs_run, 'epoch')}; best epoch "
                     f"{self.early.best_epoch} (validation loss {self.early.best_val_loss:.6g}); weights: {weights}")
        D.barrier(self.ctx)
        return self._result(status, epochs_run, weights)


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def _default_workers(device: torch.device, cached: bool, ctx: D.Dist) -> int:
    """Loader processes per rank: none when every photo is in RAM (cutting crops from the cache costs
    less than handing batches between processes); on a GPU up to 8; on a CPU one, so that decoding
    competes as little as possible with the model for the cores."""
    if cached:
        return 0
    if device.type == "cuda":
        return min(8, cpu_cores() // ctx.local_world_size)
    return 1


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
