"""Early stopping, the time budget and the schedule keep their state in `state_dict()` and take it back
with `load_state_dict()`; how a run ended is an `Outcome`."""

import math

from colorizekit.train.schedule import Schedule
from colorizekit.train.stopping import EarlyStopping, Outcome, TimeBudget


def test_early_stopping_counts_epochs_without_improvement_and_round_trips():
    early = EarlyStopping(patience=2, min_delta=0.1)
    assert early.update(1, 1.0) and early.best_epoch == 1
    assert not early.update(2, 0.95)  # not better by more than min_delta
    assert not early.should_stop and not early.update(3, 2.0) and early.should_stop
    again = EarlyStopping(patience=2)
    again.load_state_dict(early.state_dict())
    assert again.state_dict() == {"best_val_loss": 1.0, "best_epoch": 1, "bad_epochs": 2} and again.should_stop
    again.reset()
    assert again.best_val_loss == math.inf and again.best_epoch == 0 and not again.should_stop


def test_time_budget_continues_a_saved_budget_only_when_it_is_the_same_and_not_spent():
    budget = TimeBudget(10, save_every_minutes=0)
    assert not budget.spent() and budget.save_every is None
    resumed = TimeBudget(10, None)
    assert resumed.load_state_dict({"budget_s": 600.0, "spent_s": 540.0}) and resumed.seconds_left() <= 60.0
    assert not TimeBudget(10, None).load_state_dict({"budget_s": 600.0, "spent_s": 600.0})  # spent: a new budget
    assert not TimeBudget(5, None).load_state_dict({"budget_s": 600.0, "spent_s": 60.0})  # another budget
    assert TimeBudget(None, None).seconds_left() == math.inf


def test_schedule_round_trips_and_a_budget_ends_its_cosine_cycle():
    schedule = Schedule.over_steps("cosine", 1e-3, start_step=10, steps=None)
    schedule.calibrate(step=100, steps_per_second=2.0, seconds_left=50.0)
    copy = Schedule("cosine", 1.0)
    copy.load_state_dict(schedule.state_dict())
    assert copy == schedule and copy.lr(150) == schedule.lr(150)
    copy.end_cycle(120)
    assert copy.end_step == 120 and not copy.timed and copy.finished(120)


def test_outcome_is_an_enum_whose_values_are_the_checkpoint_and_card_strings():
    assert Outcome("budget_spent") is Outcome.BUDGET_SPENT and str(Outcome.EARLY_STOPPED) == "early_stopped"
    assert [o.value for o in Outcome] == ["finished", "early_stopped", "budget_spent", "interrupted"]
