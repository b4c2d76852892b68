"""When training stops, and how a run ended: Ctrl-C / SIGTERM (`StopRequest`), early stopping
(`EarlyStopping`), the time budget and timed saves (`TimeBudget`), and `Outcome`.

`EarlyStopping` and `TimeBudget` keep the state a resume needs and give it with `state_dict()` and
take it back with `load_state_dict()` (as PyTorch Lightning's callbacks do), so a checkpoint holds
them and a resumed run restores each with one call.
"""

from __future__ import annotations

import math
import signal
import sys
import threading
import time
from enum import StrEnum
from typing import Any


class Outcome(StrEnum):
    """How a call to `train` ended (a `str`: "finished", "early_stopped", ...)."""

    FINISHED = "finished"  # every epoch ran
    EARLY_STOPPED = "early_stopped"  # the validation loss stopped improving for `patience` epochs
    BUDGET_SPENT = "budget_spent"  # the time budget ran out; resume to go on
    INTERRUPTED = "interrupted"  # Ctrl-C, SIGTERM or the stop event; resume to go on


class StopRequest:
    """Turns SIGINT/SIGTERM into a request to stop after the current step (second Ctrl-C: abort)."""

    def __init__(self, event: threading.Event | None, announce: bool) -> None:
        self.event = event or threading.Event()
        self.announce = announce
        self.reason = "a stop request"
        self._previous: dict[int, Any] = {}

    def __enter__(self) -> StopRequest:
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


class EarlyStopping:
    """The best validation loss so far, its epoch, and how many epochs since have not beaten it by more
    than `min_delta`; `should_stop` after `patience` such epochs."""

    def __init__(self, patience: int, min_delta: float = 0.0) -> None:
        self.patience, self.min_delta = patience, min_delta
        self.reset()

    def reset(self) -> None:
        """Forget the best loss (a resume at another image size: its losses are not comparable)."""
        self.best_val_loss, self.best_epoch, self.bad_epochs = math.inf, 0, 0

    def update(self, epoch: int, val_loss: float) -> bool:
        """Record an epoch's validation loss; returns whether it is the new best."""
        if val_loss < self.best_val_loss - self.min_delta:
            self.best_val_loss, self.best_epoch, self.bad_epochs = val_loss, epoch, 0
            return True
        self.bad_epochs += 1
        return False

    @property
    def should_stop(self) -> bool:
        return self.bad_epochs >= self.patience

    def state_dict(self) -> dict[str, Any]:
        return {"best_val_loss": self.best_val_loss, "best_epoch": self.best_epoch, "bad_epochs": self.bad_epochs}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.best_val_loss = float(state["best_val_loss"])
        self.best_epoch, self.bad_epochs = int(state["best_epoch"]), int(state["bad_epochs"])


class TimeBudget:
    """Wall time against the time budget, and timed checkpoints.

    The budget is the run's, not the process's: `state_dict()` (saved in every checkpoint) records the
    budget and the seconds spent on it, and `load_state_dict()` on resume continues a budget that a
    crash, kill or Ctrl-C interrupted with the seconds it had left. A budget that was spent, or a
    resume with another --time-budget, starts a new budget of the configured minutes.
    """

    def __init__(self, budget_minutes: float | None, save_every_minutes: float | None) -> None:
        self.start = time.monotonic()
        self.budget = None if budget_minutes is None else budget_minutes * 60.0
        self.spent_before = 0.0  # seconds of this budget spent by earlier processes of the run
        self.save_every = None if not save_every_minutes else save_every_minutes * 60.0
        self.last_save = self.start

    def elapsed(self) -> float:
        """Seconds spent on the budget: this process's and earlier ones' (a resumed budget)."""
        return self.spent_before + time.monotonic() - self.start

    def seconds_left(self) -> float:
        return math.inf if self.budget is None else self.budget - self.elapsed()

    def spent(self) -> bool:
        return self.seconds_left() <= 0

    def save_due(self) -> bool:
        return self.save_every is not None and time.monotonic() - self.last_save >= self.save_every

    def saved(self) -> None:
        self.last_save = time.monotonic()

    def state_dict(self) -> dict[str, Any]:
        return {"budget_s": self.budget, "spent_s": self.elapsed()}

    def load_state_dict(self, state: dict[str, Any] | None) -> bool:
        """Continue a saved budget if it is this one and was not spent; returns whether it did."""
        if not state or self.budget is None or state.get("budget_s") != self.budget:
            return False
        spent = float(state.get("spent_s", 0.0))
        if spent >= self.budget:
            return False
        self.spent_before = spent
        return True
