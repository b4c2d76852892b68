"""When training stops: Ctrl-C / SIGTERM, early stopping, and the time budget."""

from __future__ import annotations

import math
import signal
import sys
import threading
import time
from dataclasses import dataclass
from typing import Any


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


@dataclass
class EarlyStopping:
    """The best validation loss so far and how many epochs have not beaten it."""

    best_val_loss: float = math.inf
    best_epoch: int = 0
    bad_epochs: int = 0


class Clock:
    """Wall time since the run (this process) started: the time budget and timed checkpoints."""

    def __init__(self, budget_minutes: float | None, save_every_minutes: float | None) -> None:
        self.start = time.monotonic()
        self.budget = None if budget_minutes is None else budget_minutes * 60.0
        self.save_every = None if not save_every_minutes else save_every_minutes * 60.0
        self.last_save = self.start

    def elapsed(self) -> float:
        return time.monotonic() - self.start

    def seconds_left(self) -> float:
        return math.inf if self.budget is None else self.budget - self.elapsed()

    def budget_spent(self) -> bool:
        return self.seconds_left() <= 0

    def save_due(self) -> bool:
        return self.save_every is not None and time.monotonic() - self.last_save >= self.save_every

    def saved(self) -> None:
        self.last_save = time.monotonic()
