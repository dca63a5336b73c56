"""Evaluation results -> the metrics record: the shaping every track's record function shares.

An evaluation script collects one flat dict of figures per model. `model_record` lifts the
fields every track has (size, throughput, primary metric) out of it by the names the track
declares in its `Headline`, and keeps every other figure under `metrics`; values become plain
JSON (numpy scalars and arrays unwrapped, NaN and infinity as null).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from pydantic import BaseModel

from distillery.metrics.record import (
    Comparison,
    Direction,
    Goal,
    MetricsFile,
    ModelRecord,
    PrimaryMetric,
    Throughput,
)

# keys of a model's figures that the record holds as its own fields (`role`, `device`) and
# that therefore never appear again under `metrics`
RECORD_FIELDS = ("role", "device")


@dataclass(frozen=True)
class Headline:
    """Which of a track's figures are the primary metric and the throughput."""

    primary: str
    direction: Direction
    unit: str
    throughput: str | None = None  # key of the items-per-second figure; None: not timed
    throughput_unit: str = ""
    n_params: str = "n_params"
    size_bytes: str = "size_bytes"


def plain(value: Any) -> Any:
    """A JSON-ready copy: numpy values unwrapped, settings dumped, non-finite floats as None."""
    if isinstance(value, BaseModel):
        return plain(value.model_dump(mode="json"))
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if hasattr(value, "tolist") and not isinstance(value, bool | int | float | str):
        return plain(value.tolist())  # numpy scalar -> Python scalar, array -> nested lists
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def number(value: Any) -> float | None:
    """A finite float, or None for a missing, non-numeric or non-finite value."""
    value = plain(value)
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def ratio(numerator: Any, denominator: Any) -> float | None:
    """numerator / denominator; None when either is missing or non-finite, or the
    denominator is zero (a ratio to a perfect or untimed reference has no value)."""
    a, b = number(numerator), number(denominator)
    return None if a is None or b is None or b == 0 else a / b


def mean_std(values: Sequence[float]) -> tuple[float | None, float | None]:
    """Mean and sample standard deviation (n - 1, as the leaderboard folds sweep seeds) of a
    figure over seeds; None for what too few values leave undefined (both for none, the std
    for one)."""
    array = np.asarray(values, dtype=np.float64)
    if not len(array):
        return None, None
    return float(array.mean()), float(array.std(ddof=1)) if len(array) > 1 else None


def device_name(device: str | Mapping[str, Any]) -> str:
    """`cpu`, `NVIDIA H100 ...`: a plain name, or the `device` of a described device
    (`describe_jax_device`, `describe_torch_device`)."""
    return str(device["device"]) if isinstance(device, Mapping) else str(device)


def model_record(model: str, role: str, figures: Mapping[str, Any], headline: Headline, *,
                 device: str | Mapping[str, Any], goals: Sequence[Goal] = ()) -> ModelRecord:
    """One model's flat figures as a `ModelRecord`; a missing primary metric is a ValueError
    (an evaluation that did not compute it is a bug, not a result)."""
    rest = plain(figures)
    if headline.primary not in rest:
        raise ValueError(f"model {model!r}: no {headline.primary!r} among {sorted(rest)}")
    for key in RECORD_FIELDS:
        rest.pop(key, None)
    n_params, size = rest.pop(headline.n_params, None), rest.pop(headline.size_bytes, None)
    throughput = None
    if headline.throughput is not None:
        throughput = Throughput(value=number(rest.pop(headline.throughput, None)),
                                unit=headline.throughput_unit)
    primary = PrimaryMetric(name=headline.primary, value=number(rest.pop(headline.primary)),
                            direction=headline.direction, unit=headline.unit)
    return ModelRecord(
        model=model, role=role, device=device_name(device), throughput=throughput,
        n_params=None if n_params is None else int(n_params),
        size_bytes=None if size is None else int(size),
        primary=primary, goals=tuple(goals), metrics=rest)


def check(name: str, value: Any, threshold: float, comparison: Comparison) -> Goal:
    """`Goal.check` on a value that may be a numpy scalar or non-finite (recorded as null,
    never passed)."""
    return Goal.check(name, number(value), float(threshold), comparison)


def environment(device: str | Mapping[str, Any]) -> dict[str, Any]:
    """`{"device": description}` for a record's summary when the device was described in
    full (framework, dtype, count); nothing for a plain name, which every model holds."""
    return {"device": plain(device)} if isinstance(device, Mapping) else {}


def goal_lines(record: MetricsFile) -> list[str]:
    """One log line per goal: `student: speedup >= 10 met (12.3)`."""
    return [f"{model}: {g.name} {g.comparison} {g.threshold:g} "
            f"{'met' if g.passed else 'missed'} ({'n/a' if g.value is None else f'{g.value:.4g}'})"
            for model, g in record.goals()]
