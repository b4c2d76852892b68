"""Learning-rate schedules: constant, cosine over steps, cosine calibrated to a time budget."""

import math

import pytest

from colorizekit.train.schedule import MIN_LR_FRACTION, Schedule


def test_constant_is_the_base_rate_and_never_finishes():
    s = Schedule.over_steps("constant", 1e-3, 0, None)
    assert [s.lr(i) for i in (0, 10, 10**6)] == [1e-3] * 3 and not s.finished(10**6)


def test_cosine_warms_up_linearly_then_decays_to_its_minimum():
    s = Schedule.over_steps("cosine", 1.0, 100, 1000)  # steps 100 .. 1100, warm-up 5 % = 50
    assert s.warmup == 50 and s.end_step == 1100
    assert s.lr(100) == pytest.approx(1 / 50) and s.lr(149) == pytest.approx(1.0)
    middle = 150 + (1100 - 150) / 2
    assert s.lr(int(middle)) == pytest.approx(MIN_LR_FRACTION + (1 - MIN_LR_FRACTION) * 0.5, abs=2e-3)
    quarter = 150 + (1100 - 150) // 4
    expected = MIN_LR_FRACTION + 0.5 * (1 - MIN_LR_FRACTION) * (1 + math.cos(math.pi * (quarter - 150) / 950))
    assert s.lr(quarter) == pytest.approx(expected)
    assert s.lr(1100) == pytest.approx(MIN_LR_FRACTION) and s.lr(5000) == pytest.approx(MIN_LR_FRACTION)
    rates = [s.lr(i) for i in range(150, 1101, 10)]
    assert rates == sorted(rates, reverse=True)
    assert not s.finished(1099) and s.finished(1100)


def test_cosine_over_a_time_budget_is_calibrated_from_the_measured_speed():
    s = Schedule.over_steps("cosine", 1.0, 0, None)
    assert s.end_step is None and s.lr(10) == pytest.approx(11 / s.warmup)
    assert s.lr(10_000) == 1.0  # not calibrated yet: the base rate after the warm-up
    s.calibrate(step=60, steps_per_second=2.0, seconds_left=600)
    assert s.end_step == 60 + 1200
    s.calibrate(step=100, steps_per_second=1.0, seconds_left=500)  # revised as the speed changes
    assert s.end_step == 600 and s.warmup == int(1260 * 0.05)  # the warm-up stays as first estimated
    s.calibrate(step=600, steps_per_second=1.0, seconds_left=500)  # a finished schedule stays finished
    assert s.end_step == 600 and s.finished(600)
    fixed = Schedule.over_steps("cosine", 1.0, 0, 1000)
    fixed.calibrate(step=10, steps_per_second=1.0, seconds_left=5)  # a schedule over epochs is not timed
    assert fixed.end_step == 1000
    assert Schedule(**s.state_dict()) == s  # saved and restored with a checkpoint


def test_unknown_schedule():
    with pytest.raises(ValueError, match="schedule must be one of"):
        Schedule.over_steps("linear", 1.0, 0, 10)
