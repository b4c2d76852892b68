"""Setting a training run up (`prepare_run`): the split, the model and optimizer (resumed, initialised
from weights, or with its encoder's pretrained weights), the photo cache and loaders, the colour
mode's fit on the photos, and the state a resumed run continues from. The result, a `Run`, is what
`loop.train` works with.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from colorizekit.hardware import cpu_cores
from colorizekit.models import get_model_info
from colorizekit.models.pretrained import PretrainedCfg, check_pretrained_available, load_pretrained_encoder
from colorizekit.train import distributed as D
from colorizekit.train.checkpoint import set_rng_state
from colorizekit.train.config import TrainConfig, check_resume
from colorizekit.train.data import PhotoDataset, ShardSampler, close_loader, collate_photos, make_loader
from colorizekit.train.photocache import CACHE_SCALE, PhotoCache
from colorizekit.train.runfiles import prepare_split
from colorizekit.train.schedule import Schedule
from colorizekit.train.step import Stepper
from colorizekit.train.stopping import EarlyStopping, TimeBudget
from colorizekit.weights import load_checkpoint, load_weights

MAX_SKIPPED_SHARE = 0.5  # a run stops when more than this share of an epoch's photos cannot be read
PRIOR_PHOTOS = 4000  # training photos on which a colour prior is measured


@dataclass
class Partial:
    """Progress inside an epoch, saved when a run stops or saves mid-epoch."""

    step: int = 0  # global steps done in this epoch
    loss_sum: float = 0.0  # sum over done steps of (mean loss x photos), all ranks
    photos: int = 0  # photos trained on in this epoch, all ranks
    seconds: float = 0.0  # time spent on this epoch before the save
    skipped: int = 0  # photos that could not be read in this epoch, all ranks


@dataclass
class EpochState:
    """Running sums of the epoch in progress (this rank's, plus rank 0's share of a resumed epoch)."""

    epoch: int
    step: int
    loss_sum: torch.Tensor
    photos: int
    skipped: int
    started: float
    waited: float = 0.0  # seconds spent waiting for batches in this process
    resumed_at: float = field(default_factory=time.perf_counter)  # when this process took the epoch up
    global_sum: float = 0.0
    global_photos: int = 0
    global_skipped: int = 0

    @classmethod
    def begin(cls, epoch: int, partial: Partial, device: torch.device, is_main: bool) -> EpochState:
        """The sums of `epoch`, starting from `partial` (the saved running sums are global: rank 0 carries them)."""
        own = partial if is_main else Partial()
        return cls(epoch, partial.step, torch.zeros((), device=device) + own.loss_sum, own.photos, own.skipped,
                   time.perf_counter() - partial.seconds, global_sum=partial.loss_sum,
                   global_photos=partial.photos, global_skipped=partial.skipped)

    def wait_share(self) -> float:
        """Percent of this process's time in the epoch spent waiting for batches."""
        return 100.0 * self.waited / max(time.perf_counter() - self.resumed_at, 1e-9)

    def partial(self) -> Partial:
        return Partial(self.step, self.global_sum, self.global_photos, time.perf_counter() - self.started,
                       self.global_skipped)


@dataclass
class Data:
    """A run's photos: samplers, datasets and loaders for both sides of the split, and the counts."""

    train_sampler: ShardSampler
    val_sampler: ShardSampler
    train_set: PhotoDataset
    train_loader: Any
    val_loader: Any
    counts: dict[str, int]  # train, validation, skipped_grayscale, skipped_unreadable


@dataclass
class Run:
    """What the loop works with: the config, the model's stepper, the data, and the state a checkpoint
    keeps (early stopping, schedule, time budget, history, step), as `prepare_run` set them up."""

    config: TrainConfig
    ctx: D.Dist
    device: torch.device
    progress: bool
    stepper: Stepper
    data: Data
    early: EarlyStopping
    budget: TimeBudget
    schedule: Schedule | None = None  # set by `restore`
    history: list[dict[str, float]] = field(default_factory=list)
    global_step: int = 0
    start_epoch: int = 0  # completed epochs when this process began
    partial: Partial = field(default_factory=Partial)  # how far into the next epoch it began
    best_state: dict[str, torch.Tensor] | None = None  # restart_from_best: the best epoch's weights

    @property
    def run_dir(self) -> Path:
        return Path(self.config.out_dir)

    @property
    def last_path(self) -> Path:
        return self.run_dir / "last.pt"

    @property
    def best_path(self) -> Path:
        return self.run_dir / "best.pt"

    @property
    def counts(self) -> dict[str, int]:
        return self.data.counts

    def log(self, message: str) -> None:
        log_line(message, self.ctx)

    def close(self) -> None:
        """Shut the loaders' worker processes down."""
        close_loaders(self.data)


def log_line(message: str, ctx: D.Dist) -> None:
    """Print a line of the run's log (rank 0 only), above any progress bar."""
    if ctx.is_main:
        from tqdm import tqdm

        tqdm.write(message)


def close_loaders(data: Data | None) -> None:
    if data is not None:
        close_loader(data.train_loader)
        close_loader(data.val_loader)


def prepare_run(config: TrainConfig, ctx: D.Dist, device: torch.device, resume: bool, progress: bool) -> Run:
    """Everything a run needs before its first step (see the module docstring). ValueError or
    FileNotFoundError (one line) for settings or data that cannot work."""
    cfg = config
    log: Callable[[str], None] = lambda message: log_line(message, ctx)  # noqa: E731
    budget = TimeBudget(cfg.time_budget, cfg.save_every)  # the budget counts from here
    run_dir = Path(cfg.out_dir)
    if cfg.batch_size % ctx.world_size:
        raise ValueError(f"batch size {cfg.batch_size} (global) does not divide evenly across "
                         f"{ctx.world_size} processes")
    payload = _load_resume_payload(cfg, run_dir, resume)
    pretrained = _pretrained_cfg(cfg, payload)
    if pretrained is not None:
        check_pretrained_available(pretrained)  # before anything is written (PretrainedError, one line)
    split = prepare_split(cfg.data_dir, cfg.val_fraction, cfg.seed, run_dir, resume, ctx, progress, log)
    stepper = _build_stepper(cfg, device, ctx, payload, pretrained, log)
    data = None
    try:
        data = _build_data(cfg, ctx, device, split, resume, progress, log)
        if payload is None and cfg.init_from is None:
            _fit_mode(cfg, ctx, stepper, data.train_set, log)
        stepper.set_loss_options(rebalance=cfg.rebalance)
        run = Run(cfg, ctx, device, progress, stepper, data, EarlyStopping(cfg.patience, cfg.min_delta), budget)
        if cfg.restart_from_best and payload is not None and run.best_path.is_file():
            run.best_state = load_checkpoint(run.best_path)["state_dict"]
        restore(run, payload)
    except BaseException:
        close_loaders(data)
        raise
    return run


def _load_resume_payload(cfg: TrainConfig, run_dir: Path, resume: bool) -> dict[str, Any] | None:
    last_path = run_dir / "last.pt"
    if not resume:
        if last_path.exists():
            raise ValueError(f"{run_dir} already holds a training run ({last_path.name}); "
                             f"resume it with --resume or choose another --out folder")
        return None
    if not last_path.is_file():
        raise FileNotFoundError(f"{last_path}: no checkpoint to resume from")
    payload = load_checkpoint(last_path)  # every rank reads it (the run folder must be shared)
    check_resume(payload, cfg, last_path)
    return payload


def _pretrained_cfg(cfg: TrainConfig, payload: dict[str, Any] | None) -> PretrainedCfg | None:
    """The pretrained encoder a new run starts from: the model's, unless the run resumes, starts
    from --init-from, or was asked not to (`pretrained=False`)."""
    if payload is not None or cfg.init_from is not None or not cfg.pretrained:
        return None
    return get_model_info(cfg.model).pretrained_cfg


def _build_stepper(cfg: TrainConfig, device: torch.device, ctx: D.Dist, payload: dict[str, Any] | None,
                   pretrained: PretrainedCfg | None, log: Callable[[str], None]) -> Stepper:
    """The model, optimizer and loss, with the resumed, pretrained or --init-from weights."""
    stepper = Stepper(cfg.model, device, model_config=cfg.model_config, loss=cfg.loss, precision=cfg.precision,
                      lr=cfg.lr, weight_decay=cfg.weight_decay, compile=cfg.compile, ctx=ctx, sync_bn=cfg.sync_bn,
                      seed=cfg.seed, encoder_lr_scale=cfg.encoder_lr_scale)
    if cfg.freeze_encoder and stepper.encoder is None:
        raise ValueError(f"model {cfg.model!r} has no encoder; freeze_encoder applies to models with a "
                         f"pretrained encoder")
    model = stepper.model
    if payload is not None:
        model.load_state_dict(payload["state_dict"])
        stepper.optimizer.load_state_dict(payload["optimizer"])
        stepper.set_encoder_lr_scale(cfg.encoder_lr_scale)  # this run's, not the saved one
    elif pretrained is not None:
        path = load_pretrained_encoder(model, pretrained)
        log(f"encoder initialised from the pretrained {pretrained.name} weights ({path})")
    elif cfg.init_from is not None:
        weights = load_weights(cfg.init_from, expected_model=cfg.model)
        if weights.model_config != dict(cfg.model_config):
            raise ValueError(f"{cfg.init_from}: weights of model config {weights.model_config}, not "
                             f"{dict(cfg.model_config)}")
        model.load_state_dict(weights.state_dict)
        log(f"initialised from {cfg.init_from}")
    log(f"training {cfg.model} on {device}: {stepper.precision} ({stepper.precision_reason}), "
        f"{plural(torch.get_num_threads(), 'thread')}, loss {stepper.loss_name}"
        + (f", model config {dict(cfg.model_config)}" if cfg.model_config else ""))
    return stepper


def _build_data(cfg: TrainConfig, ctx: D.Dist, device: torch.device, split: dict[str, Any], resume: bool,
                progress: bool, log: Callable[[str], None]) -> Data:
    """Samplers, datasets (from the RAM cache when there is room) and loaders for the split."""
    root = Path(cfg.data_dir)
    train_paths = [root / p for p in split["train"]]
    val_paths = [root / p for p in split["val"]]
    if resume:
        _check_split_present(root, train_paths + val_paths, ctx, log)
    caches = _fill_caches(cfg, ctx, train_paths, val_paths, progress, log)
    cached_all = all(c is not None and c.cached + len(c.failed) == len(c.paths) for c in caches)
    workers = cfg.workers if cfg.workers is not None else _default_workers(device, cached_all, ctx)
    local_batch = cfg.batch_size // ctx.world_size
    samplers = [ShardSampler(len(paths), global_batch=cfg.batch_size, rank=ctx.rank, world_size=ctx.world_size,
                             shuffle=train, drop_last=train, seed=cfg.seed)
                for paths, train in ((train_paths, True), (val_paths, False))]
    if samplers[0].steps_per_epoch == 0:
        raise ValueError(f"the training set has {len(train_paths)} photos, fewer than one batch of "
                         f"{cfg.batch_size}; lower --batch-size or add photos")
    sets = [PhotoDataset(paths, cfg.image_size, train=train, resize=cfg.resize, seed=cfg.seed, cache=cache)
            for paths, train, cache in ((train_paths, True, caches[0]), (val_paths, False, caches[1]))]
    loaders = [make_loader(s, sampler, batch_size=local_batch, workers=workers, pin_memory=device.type == "cuda",
                           seed=cfg.seed + ctx.rank) for s, sampler in zip(sets, samplers)]
    counts = {"train": len(train_paths), "validation": len(val_paths),
              "skipped_grayscale": len(split.get("skipped_grayscale", [])),
              "skipped_unreadable": len(split.get("skipped_unreadable", []))}
    bn = "SyncBatchNorm" if cfg.sync_bn and ctx.enabled else "per-rank BatchNorm statistics"
    dist_note = f", {ctx.world_size} processes ({bn})" if ctx.enabled else ""
    log(f"{cfg.image_size}x{cfg.image_size}, global batch {cfg.batch_size}, {samplers[0].steps_per_epoch} steps "
        f"per epoch, {workers} loader workers per process{dist_note}")
    return Data(samplers[0], samplers[1], sets[0], loaders[0], loaders[1], counts)


def _check_split_present(root: Path, paths: list[Path], ctx: D.Dist, log: Callable[[str], None]) -> None:
    """On resume, most of the saved split must still be there (a few missing photos are skipped)."""
    problem = None
    if ctx.is_main:
        missing = [p for p in paths if not p.is_file()]
        if len(missing) > MAX_SKIPPED_SHARE * len(paths):
            problem = (f"{len(missing)} of the {len(paths)} photos of the saved split are missing under "
                       f"{root} (first: {missing[0]})")
        elif missing:
            log(f"warning: {len(missing)} photos of the saved split are missing (first: {missing[0]}); "
                f"they are skipped")
    problem = D.broadcast_object(problem, ctx)
    if problem:
        raise FileNotFoundError(problem)


def _fill_caches(cfg: TrainConfig, ctx: D.Dist, train_paths: list[Path], val_paths: list[Path], progress: bool,
                 log: Callable[[str], None]) -> list[PhotoCache | None]:
    if cfg.cache_mb == 0:
        return [None, None]
    limit = cfg.cache_mb * 2**20 // ctx.local_world_size
    total = len(train_paths) + len(val_paths)
    caches = []
    for paths in (train_paths, val_paths):
        cache = PhotoCache(paths, CACHE_SCALE * cfg.image_size, max(1, limit * len(paths) // total))
        cache.fill(threads=cpu_cores(), progress=progress and ctx.is_main)
        caches.append(cache)
    log(f"data cache: training {caches[0].describe()}; validation {caches[1].describe()}")
    return caches


def _fit_mode(cfg: TrainConfig, ctx: D.Dist, stepper: Stepper, train_set: PhotoDataset,
              log: Callable[[str], None]) -> None:
    """Let the colour mode measure what it needs on the training photos (e.g. a colour prior)."""
    count = min(len(train_set), PRIOR_PHOTOS)
    photos = PhotoDataset(train_set.paths[:count], cfg.image_size, train=False, resize=cfg.resize, seed=cfg.seed,
                          cache=train_set.cache)

    def batches():
        for start in range(0, count, 64):
            batch, _ = collate_photos([photos[i] for i in range(start, min(count, start + 64))])
            if batch is not None:
                yield batch

    stepper.mode.fit(stepper.model, batches(), log=log)
    D.broadcast_buffers(stepper.model, ctx)


def restore(run: Run, payload: dict[str, Any] | None) -> None:
    """Epoch, partial epoch, early stopping, history, step, time budget and RNG state of a resumed run
    (one call each), then the learning-rate schedule (the saved one where it still applies)."""
    cfg, steps = run.config, run.data.train_sampler.steps_per_epoch
    saved_schedule = None
    if payload is not None:
        run.start_epoch = int(payload["epoch"])
        run.partial = Partial(**payload["partial"]) if payload.get("partial") else Partial()
        run.early.load_state_dict(payload["early_stopping"])
        run.history = [dict(r) for r in payload.get("history", [])]
        run.global_step = int(payload.get("global_step", run.start_epoch * steps + run.partial.step))
        saved_schedule = payload.get("schedule")
        old_batch, old_size = int(payload["config"]["batch_size"]), int(payload["config"]["image_size"])
        if old_batch != cfg.batch_size or old_size != cfg.image_size:
            run.log(f"resuming with batch {old_batch} -> {cfg.batch_size}, image size {old_size} -> {cfg.image_size}")
            run.partial.step = min(steps, run.partial.step * old_batch // cfg.batch_size)
            saved_schedule = None  # steps changed meaning: a new schedule
        if old_size != cfg.image_size and run.early.best_epoch:
            run.log(f"validation losses at {cfg.image_size} px are not comparable with those at {old_size} px: "
                    f"early stopping and the best epoch start over (was epoch {run.early.best_epoch})")
            run.early.reset()
        set_rng_state(payload["rng"])
        if run.budget.load_state_dict(payload.get("clock")):
            run.log(f"continuing the time budget: {run.budget.seconds_left() / 60:.1f} of "
                    f"{run.budget.budget / 60:g} minutes left")
        where = f"epoch {run.start_epoch + 1}" + (f", step {run.partial.step}" if run.partial.step else "")
        run.log(f"resuming {run.last_path} at {where}")
    run.schedule = _make_schedule(run, saved_schedule)


def _make_schedule(run: Run, saved: dict[str, Any] | None) -> Schedule:
    """The saved schedule when it is of this kind, not finished, and of known length or budgeted; else a new one."""
    cfg = run.config
    if saved is not None and saved.get("kind") == cfg.schedule:
        schedule = Schedule(cfg.schedule, cfg.lr)
        schedule.load_state_dict(saved)
        if not schedule.finished(run.global_step) and (schedule.end_step is not None or cfg.time_budget):
            return schedule
    if cfg.schedule == "constant" or cfg.time_budget is not None:
        schedule = Schedule.over_steps(cfg.schedule, cfg.lr, run.global_step, None)
    else:
        steps = run.data.train_sampler.steps_per_epoch
        remaining = (cfg.epochs - run.start_epoch) * steps - run.partial.step
        schedule = Schedule.over_steps(cfg.schedule, cfg.lr, run.global_step, max(1, remaining))
    if cfg.schedule == "cosine":
        span = "the time budget" if schedule.end_step is None else f"{schedule.end_step - run.global_step} steps"
        run.log(f"learning rate: cosine from {cfg.lr:g} over {span} after {schedule.warmup} warm-up steps")
    return schedule


def plural(n: int, word: str) -> str:
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
