"""A training run's checkpoint: what `last.pt` holds (the model, the optimizer, the epoch and the part
of an epoch done, early stopping, the schedule, the time budget, the history, the RNG states), and
the helpers that make it safe to save (`to_cpu`, `rng_state`) and to restore (`set_rng_state`).

The file format itself (self-describing, `weights_only`-loadable) is `colorizekit.weights.files`'.
"""

from __future__ import annotations

import dataclasses
import os
import random
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from colorizekit.imageio.atomic import atomic_path
from colorizekit.weights import model_state_dict, save_checkpoint

if TYPE_CHECKING:  # the run comes in as an argument; setup builds it and imports this module
    from colorizekit.train.setup import Partial, Run


def training_state(run: Run, epoch: int, partial: Partial | None) -> dict[str, Any]:
    """What `last.pt` holds after `epoch` completed epochs and `partial` of the next (None: none)."""
    stepper = run.stepper
    return {
        "state_dict": model_state_dict(stepper.model),
        "optimizer": to_cpu(stepper.optimizer.state_dict()),
        "config": dataclasses.asdict(run.config),
        "epoch": epoch,  # completed epochs
        "partial": dataclasses.asdict(partial) if partial is not None else None,
        "early_stopping": run.early.state_dict(),
        "best_val_loss": run.early.best_val_loss,
        "history": [dict(r) for r in run.history],
        "global_step": run.global_step,
        "schedule": run.schedule.state_dict(),
        "clock": run.budget.state_dict(),
        "rng": rng_state(),
        "world_size": run.ctx.world_size,
        "data": dict(run.counts),
    }


def save_last(run: Run, epoch: int, partial: Partial | None) -> None:
    """Write `last.pt` atomically (rank 0 only calls it) and restart the timer of timed saves."""
    save_checkpoint(run.last_path, run.config.model, training_state(run, epoch, partial),
                    model_config=run.config.model_config)
    run.budget.saved()


def rng_state() -> dict[str, Any]:
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


def set_rng_state(state: dict[str, Any]) -> None:
    """Restore the RNG states `rng_state` saved."""
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    name, keys, pos, has_gauss, cached = state["numpy"]
    np.random.set_state((name, np.array(keys, dtype=np.uint32), pos, has_gauss, cached))
    torch.set_rng_state(state["torch"].cpu())
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state(state["cuda"].cpu())


def to_cpu(obj: Any) -> Any:
    """`obj` with every tensor inside it (dicts, lists, tuples) detached and moved to the CPU."""
    if isinstance(obj, torch.Tensor):
        return obj.detach().cpu()
    if isinstance(obj, dict):
        return {k: to_cpu(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(to_cpu(v) for v in obj)
    return obj


def link_or_copy(src: Path, dst: Path) -> None:
    """Make `dst` an atomic copy of `src` (a hard link when the file system allows)."""
    with atomic_path(dst) as tmp:
        tmp.unlink()
        try:
            os.link(src, tmp)
        except OSError:
            shutil.copyfile(src, tmp)
