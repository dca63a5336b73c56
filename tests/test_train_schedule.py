"""Learning-rate schedules and early stopping: values against closed forms."""

from __future__ import annotations

import math

import pytest
from pydantic import ValidationError

from distillery.train.early_stopping import EarlyStopping
from distillery.train.schedule import make_schedule
from distillery.train.settings import ScheduleSettings


def test_warmup_is_linear_then_cosine_reaches_floor() -> None:
    lr = make_schedule(ScheduleSettings(lr=1e-2, warmup_steps=4, kind="cosine", decay_steps=10,
                        final_lr_ratio=0.1))
    assert [lr(s) for s in range(4)] == pytest.approx([2.5e-3, 5e-3, 7.5e-3, 1e-2])
    assert lr(4) == pytest.approx(1e-2)
    assert lr(4 + 5) == pytest.approx(1e-2 * (0.1 + 0.9 * 0.5))
    assert lr(4 + 10) == pytest.approx(1e-3)
    assert lr(4 + 1000) == pytest.approx(1e-3)


def test_exponential_and_step_decay() -> None:
    exp = make_schedule(ScheduleSettings(lr=1.0, kind="exponential", decay_steps=10,
                                         decay_rate=0.5, warmup_steps=0))
    assert exp(10) == pytest.approx(0.5)
    assert exp(5) == pytest.approx(math.sqrt(0.5))
    step = make_schedule(ScheduleSettings(lr=1.0, kind="step", step_size=3, gamma=0.1,
                          warmup_steps=2))
    assert [step(s) for s in (2, 4, 5, 8)] == pytest.approx([1.0, 1.0, 0.1, 0.01])
    assert make_schedule(ScheduleSettings(lr=0.3, kind="constant", warmup_steps=0))(12345) == 0.3


def test_bad_schedule_config_is_reported() -> None:
    with pytest.raises(ValidationError, match="kind"):
        ScheduleSettings(lr=1.0, kind="linear")
    with pytest.raises(ValidationError, match="lr"):
        ScheduleSettings(lr=0.0)


def test_cosine_length_defaults_to_the_rest_of_the_run() -> None:
    lr = make_schedule(ScheduleSettings(lr=1.0, warmup_steps=0, final_lr_ratio=0.0), 100)
    assert lr(50) == pytest.approx(0.5)
    assert lr(100) == pytest.approx(0.0)


def test_early_stopping_counts_and_round_trips() -> None:
    stopper = EarlyStopping(patience=2, min_delta=0.01)
    assert stopper.update(1.0)
    assert not stopper.update(0.995)  # within min_delta: no improvement
    assert not stopper.should_stop
    assert not stopper.update(2.0)
    assert stopper.should_stop
    clone = EarlyStopping(patience=2, min_delta=0.01)
    clone.load_state_dict(stopper.state_dict())
    assert clone.should_stop and clone.best == 1.0
    assert clone.update(0.5) and not clone.should_stop
