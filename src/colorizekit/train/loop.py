"""Training: the design's recipe by default; fast on CPUs and GPUs, resumable, interruptible at any
moment, time-budgeted, and distributed with torchrun.

`train(TrainConfig(data_dir, model, out_dir))` reproduces the design by default: 128 x 128 photos,
batch 32, the model's colour-mode loss (MSE for the design's models), Adam (lr 1e-3, weight decay
1e-7), up to 100 epochs, early stopping on the mean validation loss (patience 10, delta 0), split
80/20 after a shuffle with seed 44. The run folder gets `last.pt` (after every epoch, and every
`save_every` minutes in between), `best.pt`, `history.csv`, `loss_curve.png`, and when it ends or stops
`model.safetensors` with `model_card.json` (see `colorizekit.train.runfiles`).

`train` sets up (`setup.prepare_run`: the split, the model, optimizer and loss, a resumed checkpoint
or initial weights, the RAM cache of decoded photos, the colour prior), then `_loop` runs, top to
bottom: for each epoch, its steps (with read-backs of the loss, timed saves, the time budget and
stop requests every SYNC_EVERY steps), the validation, early stopping, the checkpoint, and the
checks that end the run. How it ended is an `Outcome`.

Resuming (`resume=True`) continues exactly: the sampler order and every random crop depend only on
(seed, epoch, index), and model, optimizer, early stopping, schedule, time budget, history and RNG
states come from `last.pt`. Ctrl-C or SIGTERM finishes the step in progress, saves and returns
(under torchrun: at the next read-back, at most SYNC_EVERY steps, so that all ranks stop together); a
second Ctrl-C aborts. `image_size` and `batch_size` may change on resume (progressive training, e.g.
64 then 128 px). A NaN or infinite loss raises `TrainingDiverged` and keeps the last good checkpoint.
Distributed: ranks use DistributedDataParallel; `batch_size` is the global batch; validation losses
are summed over ranks, so the mean is the single-process one; only rank 0 writes files.
"""

from __future__ import annotations

import math
import os
import threading
import time
from collections.abc import Callable
from typing import Any

import torch

from colorizekit.models import get_model_info
from colorizekit.train import distributed as D
from colorizekit.train.checkpoint import link_or_copy, save_last
from colorizekit.train.config import DataFailure, TrainConfig, TrainingDiverged, TrainResult
from colorizekit.train.runfiles import write_card, write_curve, write_history
from colorizekit.train.setup import MAX_SKIPPED_SHARE, EpochState, Partial, Run, plural, prepare_run
from colorizekit.train.stopping import Outcome, StopRequest
from colorizekit.version import __version__
from colorizekit.weights import export_weights, load_checkpoint, model_state_dict

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

    Returns a TrainResult (its `status` an `Outcome`); raises ValueError/FileNotFoundError for bad
    settings or data (one-line messages), TrainingDiverged when the loss stops being finite and
    DataFailure when most photos cannot be read.
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
            run = prepare_run(config, ctx, device, resume, progress)
            return _loop(run, stop_request, on_epoch)
    finally:
        if run is not None:
            run.close()
        torch.use_deterministic_algorithms(previous[0])
        torch.backends.cudnn.benchmark = previous[1]
        torch.set_num_threads(previous[2])
        D.teardown(ctx)


def _loop(run: Run, stop: StopRequest, on_epoch: Callable[[dict[str, float]], None] | None) -> TrainResult:
    """The training loop, top to bottom (longer than the house's 60 lines on purpose: as in nanoGPT's
    train.py, the steps, evaluation, checkpoints and every way a run ends stand in one place)."""
    from tqdm import tqdm

    cfg, ctx, stepper, steps = run.config, run.ctx, run.stepper, run.data.train_sampler.steps_per_epoch
    if _any_rank(stop.requested, run):  # asked to stop while scanning or setting up: nothing new to save
        run.log(f"stopped by {stop.reason} before training started; nothing to save")
        return _result(run, Outcome.INTERRUPTED, run.start_epoch)
    epoch, partial = run.start_epoch, run.partial
    while epoch < cfg.epochs and not run.early.should_stop:
        epoch += 1
        _freeze_for_epoch(run, epoch)
        run.data.train_sampler.set_epoch(epoch, partial.step)
        st = EpochState.begin(epoch, partial, run.device, ctx.is_main)
        partial = Partial()
        # -- the epoch's training steps --------------------------------------------------------------
        with tqdm(total=steps, initial=st.step, desc=f"epoch {epoch}/{cfg.epochs}", unit="step", leave=False,
                  dynamic_ncols=True, disable=not (run.progress and ctx.is_main)) as bar:
            started, photos_since, outcome = time.perf_counter(), 0, None
            batches = iter(run.data.train_loader)
            while outcome is None:
                waiting = time.perf_counter()
                item = next(batches, None)
                st.waited += time.perf_counter() - waiting
                if item is None:
                    break
                batch, skipped = item
                st.skipped += skipped
                if batch is not None:
                    stepper.set_lr(run.schedule.lr(run.global_step))
                    st.loss_sum += stepper.train_step(batch) * batch.shape[0]
                    st.photos += batch.shape[0]
                    photos_since += batch.shape[0] * ctx.world_size
                st.step += 1
                run.global_step += 1
                bar.update(1)
                if _sync_due(run, st, stop):
                    outcome = _sync_point(run, st, bar, photos_since / max(time.perf_counter() - started, 1e-9), stop)
        if outcome is not None:  # stopped or out of time mid-epoch: the partial epoch is saved
            return _finish(run, outcome, epoch - 1)
        if stop.requested and not ctx.enabled:  # not validated yet: resume will validate
            _save_partial(run, epoch, st.partial(), stop)
            return _finish(run, Outcome.INTERRUPTED, epoch - 1)
        # -- evaluation and early stopping -------------------------------------------------------------
        train_seconds, waited = time.perf_counter() - st.started, st.wait_share()
        val_loss = _validate(run, epoch)
        improved = run.early.update(epoch, val_loss)
        row = _record_epoch(run, st, train_seconds, val_loss)
        if not stepper.params_finite():
            _diverged(run, epoch, st.step, st.step)
        if cfg.restart_from_best:  # the design notebook's behaviour: back to the best weights after a bad epoch
            if improved:
                run.best_state = {k: v.detach().clone() for k, v in stepper.model.state_dict().items()}
            elif run.best_state is not None:
                stepper.model.load_state_dict(run.best_state)
        # -- checkpoint ---------------------------------------------------------------------------------
        _save_epoch(run, epoch, improved)
        _log_epoch(run, row, waited, improved, st.global_skipped)
        if on_epoch is not None:
            on_epoch(dict(row))
        # -- the ends of a run between epochs -------------------------------------------------------------
        more = epoch < cfg.epochs and not run.early.should_stop
        if more and _any_rank(stop.requested, run):
            run.log(f"stopped by {stop.reason} after epoch {epoch}; continue with --resume")
            return _finish(run, Outcome.INTERRUPTED, epoch)
        if more and _any_rank(run.budget.spent(), run):
            run.schedule.end_cycle(run.global_step)
            if ctx.is_main:
                save_last(run, epoch, None)
            return _finish(run, Outcome.BUDGET_SPENT, epoch)
    if run.early.should_stop:
        run.log(f"early stopping: no improvement for {plural(run.early.bad_epochs, 'epoch')}; best epoch "
                f"{run.early.best_epoch} (validation loss {run.early.best_val_loss:.6g})")
        return _finish(run, Outcome.EARLY_STOPPED, epoch)
    return _finish(run, Outcome.FINISHED, epoch)


def _any_rank(flag: bool, run: Run) -> bool:
    """Whether `flag` is set on any rank (every rank gets the same answer)."""
    return D.any_rank(flag, run.ctx, run.device)


def _freeze_for_epoch(run: Run, epoch: int) -> None:
    """Freeze the encoder in epochs 1 ... freeze_encoder, unfreeze it after (also on resume: the
    state follows from the epoch alone)."""
    frozen = epoch <= run.config.freeze_encoder
    if run.stepper.set_encoder_frozen(frozen):
        run.log(f"encoder frozen for epochs 1-{run.config.freeze_encoder}" if frozen
                else f"encoder unfrozen from epoch {epoch}")


def _sync_due(run: Run, st: EpochState, stop: StopRequest) -> bool:
    """Whether this step reads the loss back: every SYNC_EVERY steps and at the epoch's end; also at once
    for a stop, a timed save or a spent budget when there is one process (ranks stop together, at syncs)."""
    at_sync = st.step % SYNC_EVERY == 0 or st.step == run.data.train_sampler.steps_per_epoch
    if run.ctx.enabled:
        return at_sync
    return at_sync or stop.requested or run.budget.save_due() or run.budget.spent()


def _sync_point(run: Run, st: EpochState, bar: Any, rate: float, stop: StopRequest) -> Outcome | None:
    """Read the loss back; check it, the data, the schedule, stops, saves and the budget. An Outcome
    when the run ends here (its state saved), else None."""
    steps = run.data.train_sampler.steps_per_epoch
    st.global_sum, st.global_photos, st.global_skipped, stop_any, budget_spent = _reduce(run, st, stop)
    if not math.isfinite(st.global_sum):
        _diverged(run, st.epoch, st.step, steps)
    attempted = st.global_photos + st.global_skipped
    if st.global_skipped > MAX_SKIPPED_SHARE * attempted and attempted >= 2 * run.config.batch_size:
        raise DataFailure(f"{st.global_skipped} of the {attempted} photos loaded in epoch {st.epoch} could not "
                          f"be read (see the warnings above); training stopped, the last checkpoint "
                          f"{run.last_path} is kept")
    if run.global_step - run.schedule.start_step >= SYNC_EVERY * 2 and st.step >= SYNC_EVERY:
        run.schedule.calibrate(run.global_step, rate / run.config.batch_size, _train_seconds_left(run))
    bar.set_postfix(loss=f"{st.global_sum / max(st.global_photos, 1):.5f}", img_s=f"{rate:.1f}")
    if st.step >= steps:
        return None  # the epoch ends here: validation and the epoch's save follow
    if stop_any:
        _save_partial(run, st.epoch, st.partial(), stop)
        return Outcome.INTERRUPTED
    if budget_spent:
        run.schedule.end_cycle(run.global_step)
        _save_partial(run, st.epoch, st.partial(), None)
        _log_progress(run, st, rate)
        return Outcome.BUDGET_SPENT
    if run.budget.save_due():
        _save_partial(run, st.epoch, st.partial(), None)
        _log_progress(run, st, rate)
    return None


def _reduce(run: Run, st: EpochState, stop: StopRequest) -> tuple[float, int, int, bool, bool]:
    """Global (loss sum, photos, skipped, stop asked on any rank, budget spent on any rank)."""
    t = torch.stack([st.loss_sum.float(), *(torch.tensor(float(v), device=run.device) for v in
                     (st.photos, st.skipped, stop.requested, run.budget.spent()))])
    total, count, skipped, stop_any, budget = D.all_reduce_sum(t, run.ctx).tolist()
    return total, int(round(count)), int(round(skipped)), stop_any > 0, budget > 0


def _train_seconds_left(run: Run) -> float:
    """The budget's remaining seconds, less the share that validations took in the last epoch."""
    left = run.budget.seconds_left()
    if not run.history:
        return 0.9 * left
    last = run.history[-1]
    train_seconds = run.counts["train"] / max(last["images_per_s"], 1e-9)
    return left * min(1.0, train_seconds / max(last["seconds"], 1e-9))


def _validate(run: Run, epoch: int) -> float:
    """The mean validation loss over every validation photo (summed over the ranks)."""
    stepper = run.stepper
    stepper.sync_buffers()
    run.data.val_sampler.set_epoch(epoch)
    total = torch.zeros((), device=run.device, dtype=torch.float64)
    count = torch.zeros((), device=run.device, dtype=torch.float64)
    for batch, _skipped in run.data.val_loader:
        if batch is None:
            continue
        s, n = stepper.eval_batch(batch)
        total += s.double()
        count += n
    total, n = D.all_reduce_sum(torch.stack([total, count]), run.ctx).tolist()
    if n == 0:
        raise DataFailure(f"no validation photo could be read in epoch {epoch}; training stopped, the last "
                          f"checkpoint {run.last_path} is kept")
    val_loss = total / n
    if not math.isfinite(val_loss):
        steps = run.data.train_sampler.steps_per_epoch
        _diverged(run, epoch, steps, steps, what="validation loss")
    return val_loss


def _record_epoch(run: Run, st: EpochState, train_seconds: float, val_loss: float) -> dict[str, Any]:
    """The epoch's history row, appended to the run's history."""
    row = {"epoch": st.epoch, "train_loss": st.global_sum / max(st.global_photos, 1), "val_loss": val_loss,
           "seconds": time.perf_counter() - st.started,
           "images_per_s": st.global_photos / max(train_seconds, 1e-9),
           "lr": float(run.stepper.optimizer.param_groups[0]["lr"])}
    run.history.append(row)
    return row


def _log_epoch(run: Run, row: dict[str, Any], waited: float, improved: bool, skipped: int) -> None:
    early = run.early
    mark = " (best)" if improved else f" (best {early.best_val_loss:.6g} at epoch {early.best_epoch})"
    unread = f", {plural(skipped, 'photo')} skipped (unreadable)" if skipped else ""
    run.log(f"epoch {row['epoch']}/{run.config.epochs}: train loss {row['train_loss']:.6g}, validation loss "
            f"{row['val_loss']:.6g}{mark}, {row['seconds']:.1f} s, {row['images_per_s']:.1f} images/s, "
            f"{waited:.1f} % of step time waiting for data{unread}")


def _log_progress(run: Run, st: EpochState, rate: float) -> None:
    """A line for long epochs, at each timed save and when the budget ends."""
    run.log(f"epoch {st.epoch}, step {st.step}/{run.data.train_sampler.steps_per_epoch}: saved; train loss "
            f"{st.global_sum / max(st.global_photos, 1):.6g}, {rate:.1f} images/s, "
            f"{st.wait_share():.1f} % of step time waiting for data")


def _save_epoch(run: Run, epoch: int, improved: bool) -> None:
    """last.pt after a validated epoch, best.pt when it improved, the history and the loss curve."""
    if run.ctx.is_main:
        save_last(run, epoch, None)
        if improved:
            link_or_copy(run.last_path, run.best_path)
        write_history(run.run_dir / "history.csv", run.history)
        write_curve(run.run_dir / "loss_curve.png", run.history, run.early.best_epoch, run.config.model,
                    run.stepper.loss_name)
    D.barrier(run.ctx)


def _save_partial(run: Run, epoch: int, partial: Partial, stop: StopRequest | None) -> None:
    """Save the state after `partial.step` steps of `epoch` to last.pt: a stop (announced, naming its
    reason), or a timed save or the budget's end (`stop` None)."""
    if not run.stepper.params_finite():
        _diverged(run, epoch, partial.step, run.data.train_sampler.steps_per_epoch)
    run.stepper.sync_buffers()
    if run.ctx.is_main:
        save_last(run, epoch - 1, partial)
    D.barrier(run.ctx)
    if stop is not None:
        run.log(f"stopped by {stop.reason} at epoch {epoch}, step {partial.step}/"
                f"{run.data.train_sampler.steps_per_epoch}; state saved to {run.last_path}; continue with --resume")


def _diverged(run: Run, epoch: int, step: int, steps: int, what: str = "training loss") -> None:
    if run.last_path.is_file():
        kept = f"the last good checkpoint {run.last_path} is kept"
    else:
        kept = "no checkpoint had been written yet"
    raise TrainingDiverged(f"{what} became NaN or infinite in epoch {epoch} (by step {step} of {steps}); "
                           f"training stopped and these weights were not saved; {kept}. "
                           f"Try a lower --lr (now {run.config.lr:g})")


def _result(run: Run, outcome: Outcome, epochs_run: int, weights: Any = None) -> TrainResult:
    return TrainResult(run_dir=run.run_dir, status=outcome, epochs_run=epochs_run,
                       best_epoch=run.early.best_epoch, best_val_loss=run.early.best_val_loss,
                       history=tuple(dict(r) for r in run.history), weights_path=weights)


def _finish(run: Run, outcome: Outcome, epochs_run: int) -> TrainResult:
    """Export the best weights so far (or, before any validation, the current ones) and the card."""
    cfg = run.config
    if outcome is Outcome.BUDGET_SPENT and run.ctx.is_main and run.history:
        write_history(run.run_dir / "history.csv", run.history)
    weights = run.run_dir / "model.safetensors"
    if run.ctx.is_main:
        card = _model_card(run, outcome, epochs_run)
        if run.best_path.is_file():
            state = load_checkpoint(run.best_path)["state_dict"]
        else:
            state = model_state_dict(run.stepper.model)
        export_weights(weights, cfg.model, state, card=card, model_config=cfg.model_config)
        write_card(run.run_dir, card)
        run.log(f"{outcome.replace('_', ' ')} after {plural(epochs_run, 'epoch')}; best epoch "
                f"{run.early.best_epoch} (validation loss {run.early.best_val_loss:.6g}); weights: {weights}")
    D.barrier(run.ctx)
    if outcome is Outcome.BUDGET_SPENT:
        run.log(f"time budget of {cfg.time_budget:g} minutes spent; continue with: colorizekit train "
                f"{cfg.data_dir} --model {cfg.model} --out {cfg.out_dir} --resume [--time-budget MINUTES]")
    return _result(run, outcome, epochs_run, weights)


def _model_card(run: Run, outcome: Outcome, epochs_run: int) -> dict[str, Any]:
    """model_card.json (also the metadata of model.safetensors)."""
    import dataclasses
    from pathlib import Path

    cfg = run.config
    source = "best validated epoch" if run.best_path.is_file() else "current weights (no validation yet)"
    return {
        "model": cfg.model, "model_config": dict(cfg.model_config),
        "color_mode": get_model_info(cfg.model).color_mode, "loss": run.stepper.loss_name,
        "data_dir": str(Path(cfg.data_dir).resolve()), "images": dict(run.counts),
        "epochs_run": epochs_run, "best_epoch": run.early.best_epoch,
        "best_val_loss": run.early.best_val_loss, "stopped": str(outcome), "weights_from": source,
        "image_size": cfg.image_size, "world_size": run.ctx.world_size, "global_step": run.global_step,
        "precision": run.stepper.precision, "colorizekit_version": __version__,
        "config": dataclasses.asdict(cfg),
    }
