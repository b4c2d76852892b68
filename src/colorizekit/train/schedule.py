"""Learning-rate schedules: `constant` (the design's) and `cosine` (a short linear warm-up, then a
cosine decay to MIN_LR_FRACTION of the base rate).

A cosine schedule spans global steps [start_step, end_step). Over a number of epochs, end_step is known
at once. Over a time budget, it is estimated from the speed the run measures (`calibrate`): the
steps that fit in the budget's remaining time, revised as the run goes (other work on the machine
changes the speed). The schedule is saved in every checkpoint (`state_dict`), so a run
resumed after a crash continues the same curve; a run resumed after its schedule ended starts a new
one (a warm restart).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields
from typing import Any

SCHEDULES = ("constant", "cosine")
MIN_LR_FRACTION = 0.05  # cosine: the last learning rate, as a fraction of the base rate
WARMUP_STEPS = 200  # cosine: linear warm-up steps (at most WARMUP_SHARE of the schedule)
WARMUP_SHARE = 0.05


@dataclass
class Schedule:
    """The learning rate at each global step."""

    kind: str  # "constant" or "cosine"
    base_lr: float
    start_step: int = 0  # global step where this schedule began
    end_step: int | None = None  # cosine: global step where it reaches its minimum (None: not yet known)
    warmup: int = WARMUP_STEPS  # cosine: warm-up steps from start_step
    timed: bool = False  # end_step follows a time budget (revised by `calibrate`)

    def __post_init__(self) -> None:
        if self.kind not in SCHEDULES:
            raise ValueError(f"schedule must be one of {', '.join(SCHEDULES)}; got {self.kind!r}")

    @classmethod
    def over_steps(cls, kind: str, base_lr: float, start_step: int, steps: int | None) -> Schedule:
        """A schedule of `steps` steps from `start_step` (None: length to be calibrated)."""
        warmup = WARMUP_STEPS if steps is None else min(WARMUP_STEPS, max(1, int(steps * WARMUP_SHARE)))
        end = None if steps is None else start_step + max(1, steps)
        return cls(kind, base_lr, start_step, end, warmup, timed=steps is None and kind == "cosine")

    def calibrate(self, step: int, steps_per_second: float, seconds_left: float) -> None:
        """Set end_step of a time-budgeted cosine so that it ends when the budget does, at the measured
        speed (called again as the speed changes; the warm-up is fixed by the first estimate)."""
        if not self.timed or self.finished(step) or not math.isfinite(seconds_left):
            return  # a constant rate, a schedule over known steps, or no budget: nothing to fit
        first = self.end_step is None
        self.end_step = max(step + 1, step + int(steps_per_second * max(0.0, seconds_left)))
        if first:
            self.warmup = min(self.warmup, max(1, int((self.end_step - self.start_step) * WARMUP_SHARE)))

    def lr(self, step: int) -> float:
        """The learning rate for global step `step` (0-based)."""
        if self.kind == "constant":
            return self.base_lr
        done = step - self.start_step
        if done < self.warmup:
            return self.base_lr * (done + 1) / self.warmup
        if self.end_step is None:
            return self.base_lr
        span = max(1, self.end_step - self.start_step - self.warmup)
        progress = min(1.0, (done - self.warmup) / span)
        low = self.base_lr * MIN_LR_FRACTION
        return low + 0.5 * (self.base_lr - low) * (1.0 + math.cos(math.pi * progress))

    def finished(self, step: int) -> bool:
        """Whether a cosine schedule has reached its end."""
        return self.kind == "cosine" and self.end_step is not None and step >= self.end_step

    def end_cycle(self, step: int) -> None:
        """End a cosine cycle at `step` (the time budget ran out): a resume starts a new one (a warm restart)."""
        if self.kind == "cosine":
            self.end_step, self.timed = step, False

    def state_dict(self) -> dict[str, Any]:
        return asdict(self)

    def load_state_dict(self, state: dict[str, Any]) -> None:
        for f in fields(self):
            setattr(self, f.name, state[f.name])
        self.__post_init__()
