"""Setting a training run up: the split, the model and optimizer (resumed, initialised from
weights, or with its encoder's pretrained weights), the photo cache and loaders, the colour mode's fit on the photos, the learning-rate
schedule, and the state a resumed run continues from. `colorizekit.train.loop` runs the loop on top.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from colorizekit.train import distributed as D
from colorizekit.weights import load_checkpoint, load_weights
from colorizekit.hardware import cpu_cores
from colorizekit.models import get_model_info
from colorizekit.models.pretrained import PretrainedCfg, check_pretrained_available, load_pretrained_encoder
from colorizekit.train.photocache import CACHE_SCALE, PhotoCache
from colorizekit.train.runfiles import prepare_split, set_rng_state
from colorizekit.train.schedule import Schedule
from colorizekit.train.stopping import Clock, EarlyStopping, StopRequest
from colorizekit.train.config import TrainConfig, TrainResult, check_resume
from colorizekit.train.step import Stepper

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

    def wait_share(self) -> float:
        """Percent of this process's time in the epoch spent waiting for batches."""
        return 100.0 * self.waited / max(time.perf_counter() - self.resumed_at, 1e-9)

    def partial(self) -> Partial:
        return Partial(self.step, self.global_sum, self.global_photos, time.perf_counter() - self.started,
                        self.global_skipped)


@dataclass
class RunSetup:
    """The state of a run and how it is set up; `train._Run` adds the loop."""

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
        from colorizekit.train.data import close_loader

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
        pretrained = self._pretrained_cfg(payload)
        if pretrained is not None:
            check_pretrained_available(pretrained)  # before anything is written (PretrainedError, one line)
        self.split = prepare_split(cfg.data_dir, cfg.val_fraction, cfg.seed, self.run_dir, self.resume, ctx,
                                   self.progress, self.log)
        self._build_stepper(payload, pretrained)
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
        check_resume(payload, self.config, self.last_path)
        return payload

    def _pretrained_cfg(self, payload: dict[str, Any] | None) -> PretrainedCfg | None:
        """The pretrained encoder a new run starts from: the model's, unless the run resumes, starts
        from --init-from, or was asked not to (`pretrained=False`)."""
        cfg = self.config
        if payload is not None or cfg.init_from is not None or not cfg.pretrained:
            return None
        return get_model_info(cfg.model).pretrained_cfg

    def _build_stepper(self, payload: dict[str, Any] | None, pretrained: PretrainedCfg | None) -> None:
        cfg = self.config
        self.stepper = Stepper(cfg.model, self.device, model_config=cfg.model_config, loss=cfg.loss,
                               precision=cfg.precision, lr=cfg.lr, weight_decay=cfg.weight_decay,
                               compile=cfg.compile, ctx=self.ctx, sync_bn=cfg.sync_bn, seed=cfg.seed,
                               encoder_lr_scale=cfg.encoder_lr_scale)
        if cfg.freeze_encoder and self.stepper.encoder is None:
            raise ValueError(f"model {cfg.model!r} has no encoder; freeze_encoder applies to models with a "
                             f"pretrained encoder")
        model = self.stepper.model
        if payload is not None:
            model.load_state_dict(payload["state_dict"])
            self.stepper.optimizer.load_state_dict(payload["optimizer"])
            self.stepper.set_encoder_lr_scale(cfg.encoder_lr_scale)  # this run's, not the saved one
        elif pretrained is not None:
            path = load_pretrained_encoder(model, pretrained)
            self.log(f"encoder initialised from the pretrained {pretrained.name} weights ({path})")
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
                 f"{plural(torch.get_num_threads(), 'thread')}, loss {stepper.loss_name}"
                 + (f", model config {dict(cfg.model_config)}" if cfg.model_config else ""))

    def _build_data(self) -> None:
        from colorizekit.train.data import PhotoDataset, ShardSampler, make_loader

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
        from colorizekit.train.data import PhotoDataset, collate_photos

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

    def _restore(self, payload: dict[str, Any] | None) -> tuple[int, Partial]:
        """Epoch, partial epoch, early stopping, history, schedule, step and RNG state of a resumed run."""
        cfg = self.config
        steps = self.train_sampler.steps_per_epoch
        self.global_step = 0
        start_epoch, partial, saved_schedule = 0, Partial(), None
        if payload is not None:
            start_epoch = int(payload["epoch"])
            partial = Partial(**payload["partial"]) if payload.get("partial") else Partial()
            self.early = EarlyStopping(**payload["early_stopping"])
            self.history = [dict(r) for r in payload.get("history", [])]
            self.global_step = int(payload.get("global_step", start_epoch * steps + partial.step))
            saved_schedule = payload.get("schedule")
            old_batch, old_size = int(payload["config"]["batch_size"]), int(payload["config"]["image_size"])
            if old_batch != cfg.batch_size or old_size != cfg.image_size:
                self.log(f"resuming with batch {old_batch} -> {cfg.batch_size}, image size "
                         f"{old_size} -> {cfg.image_size}")
                partial.step = min(steps, partial.step * old_batch // cfg.batch_size)
                saved_schedule = None  # steps changed meaning: a new schedule
            if old_size != cfg.image_size and self.early.best_epoch:
                self.log(f"validation losses at {cfg.image_size} px are not comparable with those at {old_size} px: "
                         f"early stopping and the best epoch start over (was epoch {self.early.best_epoch})")
                self.early = EarlyStopping()
            set_rng_state(payload["rng"])
            if self.clock.load_state_dict(payload.get("clock")):
                self.log(f"continuing the time budget: {self.clock.seconds_left() / 60:.1f} of "
                         f"{self.clock.budget / 60:g} minutes left")
            where = f"epoch {start_epoch + 1}, step {partial.step}" if partial.step else f"epoch {start_epoch + 1}"
            self.log(f"resuming {self.last_path} at {where}")
        self.schedule = self._make_schedule(saved_schedule, start_epoch, partial.step)
        return start_epoch, partial

    def _freeze_for_epoch(self, epoch: int) -> None:
        """Freeze the encoder in epochs 1 ... freeze_encoder, unfreeze it after (also on resume: the
        state follows from the epoch alone)."""
        frozen = epoch <= self.config.freeze_encoder
        if self.stepper.set_encoder_frozen(frozen):
            self.log(f"encoder frozen for epochs 1-{self.config.freeze_encoder}" if frozen
                     else f"encoder unfrozen from epoch {epoch}")

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

    def _loop(self, start_epoch: int, partial: Partial) -> TrainResult:
        raise NotImplementedError


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
