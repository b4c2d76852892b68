"""Training: the design's recipe by default; fast on CPUs and GPUs, resumable, interruptible at any
moment, time-budgeted, and distributed with torchrun.

`train(TrainConfig(data_dir, model, out_dir))` reproduces the design by default: 128 x 128 photos,
batch 32, the model's colour-mode loss (MSE for the design's models), Adam (lr 1e-3, weight decay
1e-7), up to 100 epochs, early stopping on the mean validation loss (patience 10, delta 0), split
80/20 after a shuffle with seed 44. The run folder gets `last.pt` (after every epoch, and every
`save_every` minutes in between), `best.pt`, `history.csv`, `loss_curve.png`, and when it ends or stops
`model.safetensors` with `model_card.json` (see `colorizekit.train.runfiles`).

The loop, top to bottom: scan and split the photos; build the model, optimizer and loss
(`colorizekit.train.step`); load a checkpoint (`resume`) or weights (`init_from`); decode the photos
once into a RAM cache (`colorizekit.train.photocache`); measure the colour prior when the model's mode needs
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
from pathlib import Path
from typing import Any

import torch

from colorizekit.train import distributed as D
from colorizekit.weights import export_weights, load_checkpoint, model_state_dict, save_checkpoint
from colorizekit.models import get_model_info
from colorizekit.train.runfiles import link_or_copy, rng_state, to_cpu, write_card, write_curve, write_history
from colorizekit.train.stopping import EarlyStopping, StopRequest
from colorizekit.train.config import RESUMABLE_CHANGES, DataFailure, TrainConfig, TrainingDiverged, TrainResult
from colorizekit.train.setup import MAX_SKIPPED_SHARE, EpochState, Partial, RunSetup, plural

SYNC_EVERY = 25  # training steps between read-backs of the loss (progress bar, NaN check, stop agreement)


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


class _Run(RunSetup):
    """A run's training loop, validation and saving."""

    def _loop(self, start_epoch: int, partial: Partial) -> TrainResult:
        cfg = self.config
        epoch = start_epoch
        if self._stop_any():  # asked to stop while scanning or setting up: nothing new to save
            self.log(f"stopped by {self.stop.reason} before training started; nothing to save")
            return self._result("interrupted", start_epoch)
        while epoch < cfg.epochs and self.early.bad_epochs < cfg.patience:
            epoch += 1
            outcome = self._epoch(epoch, partial)
            partial = Partial()
            if outcome == "interrupted":
                return self._finish("interrupted", epoch - 1)
            if outcome == "budget_spent":
                return self._budget_spent(epoch - 1)
            more = epoch < cfg.epochs and self.early.bad_epochs < cfg.patience
            if more and self._stop_any():
                self.log(f"stopped by {self.stop.reason} after epoch {epoch}; continue with --resume")
                return self._finish("interrupted", epoch)
            if more and D.any_rank(self.clock.budget_spent(), self.ctx, self.device):
                self._end_schedule()
                if self.ctx.is_main:
                    self._save(epoch, None)
                return self._budget_spent(epoch)
        status = "early_stopped" if self.early.bad_epochs >= cfg.patience else "finished"
        if status == "early_stopped":
            self.log(f"early stopping: no improvement for {plural(self.early.bad_epochs, 'epoch')}; best epoch "
                     f"{self.early.best_epoch} (validation loss {self.early.best_val_loss:.6g})")
        return self._finish(status, epoch)

    def _stop_any(self) -> bool:
        """Whether any rank was asked to stop (all ranks get the same answer)."""
        return D.any_rank(self.stop.requested, self.ctx, self.device)

    def _epoch(self, epoch: int, partial: Partial) -> str:
        """Train and validate one epoch: "done", "interrupted" or "budget_spent" (state saved)."""
        from tqdm import tqdm

        ctx, steps = self.ctx, self.train_sampler.steps_per_epoch
        self._freeze_for_epoch(epoch)
        self.train_sampler.set_epoch(epoch, partial.step)
        st = EpochState(epoch, partial.step, torch.zeros((), device=self.device), 0, 0,
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

    def _train_steps(self, st: EpochState, bar: Any) -> str:
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

    def _sync_point(self, st: EpochState, bar: Any, rate: float) -> str:
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
        if self.global_step - self.schedule.start_step >= SYNC_EVERY * 2 and st.step >= SYNC_EVERY:
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
            self._log_progress(st, rate)
            return "budget_spent"
        if self.clock.save_due():
            self._save_partial(st.epoch, st.partial(), announce=False)
            self._log_progress(st, rate)
        return "continue"

    def _log_progress(self, st: EpochState, rate: float) -> None:
        """A line for long epochs, at each timed save and when the budget ends."""
        self.log(f"epoch {st.epoch}, step {st.step}/{self.train_sampler.steps_per_epoch}: saved; train loss "
                 f"{st.global_sum / max(st.global_photos, 1):.6g}, {rate:.1f} images/s, "
                 f"{st.wait_share():.1f} % of step time waiting for data")

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
            self.schedule.end_step, self.schedule.timed = self.global_step, False

    def _reduce(self, st: EpochState) -> tuple[float, int, int, bool, bool]:
        """Global (loss sum, photos, skipped, stop asked on any rank, budget spent on any rank)."""
        t = torch.stack([st.loss_sum.float(), *(torch.tensor(float(v), device=self.device) for v in
                         (st.photos, st.skipped, self.stop.requested, self.clock.budget_spent()))])
        total, count, skipped, stop_any, budget = D.all_reduce_sum(t, self.ctx).tolist()
        return total, int(round(count)), int(round(skipped)), stop_any > 0, budget > 0

    def _end_epoch(self, st: EpochState) -> None:
        cfg, stepper, epoch = self.config, self.stepper, st.epoch
        train_seconds = time.perf_counter() - st.started
        waited = st.wait_share()  # of the training steps, before validation
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
        skipped = f", {plural(st.global_skipped, 'photo')} skipped (unreadable)" if st.global_skipped else ""
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

    def _state(self, epoch: int, partial: Partial | None) -> dict[str, Any]:
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
            "clock": self.clock.state_dict(),
            "rng": rng_state(),
            "world_size": self.ctx.world_size,
            "data": dict(self.counts),
        }

    def _save(self, epoch: int, partial: Partial | None) -> None:
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

    def _save_partial(self, epoch: int, partial: Partial, announce: bool = True) -> None:
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
            from colorizekit.version import __version__

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
            self.log(f"{status.replace('_', ' ')} after {plural(epochs_run, 'epoch')}; best epoch "
                     f"{self.early.best_epoch} (validation loss {self.early.best_val_loss:.6g}); weights: {weights}")
        D.barrier(self.ctx)
        return self._result(status, epochs_run, weights)
