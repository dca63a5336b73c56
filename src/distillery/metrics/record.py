"""One metrics record for every track: the shape of every `metrics.json`.

A `metrics.json` holds the evaluation of one dataset: the models it compared, each as a
`ModelRecord` with the same top-level fields in every track (role, size, device, throughput,
the primary metric and its direction, the goals with thresholds and pass/fail), and the
track-specific figures under `metrics`. Readers (leaderboard, notebook, report, project
database) read this shape and nothing else.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from distillery.base_settings import read_validated
from distillery.io import write_json
from distillery.tracks import Track

SCHEMA = "distillery.metrics/1"
Direction = Literal["minimize", "maximize"]
Comparison = Literal[">=", "<="]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Throughput(_Frozen):
    value: float | None
    unit: str


class PrimaryMetric(_Frozen):
    name: str
    value: float | None
    direction: Direction
    unit: str = ""


class Goal(_Frozen):
    """A target from the config: `value` compared with `threshold`."""

    name: str
    value: float | None
    threshold: float
    comparison: Comparison
    passed: bool

    @classmethod
    def check(cls, name: str, value: float | None, threshold: float,
              comparison: Comparison) -> Goal:
        ok = value is not None and math.isfinite(value) and (
            value >= threshold if comparison == ">=" else value <= threshold)
        return cls(name=name, value=value, threshold=threshold, comparison=comparison,
                   passed=bool(ok))


class ModelRecord(_Frozen):
    """One evaluated model (or evaluation mode) of one dataset."""

    model: str
    role: str  # teacher | student | baseline | prior | full | ablation | fusion | ...
    n_params: int | None = None
    size_bytes: int | None = None
    device: str = "cpu"
    throughput: Throughput | None = None
    primary: PrimaryMetric
    goals: tuple[Goal, ...] = ()
    metrics: dict[str, Any] = Field(default_factory=dict)


class MetricsFile(_Frozen):
    """The content of one `metrics.json`."""

    schema_: Literal["distillery.metrics/1"] = Field(SCHEMA, alias="schema")
    dataset: str
    track: Track
    variant: str = "default"
    split: str = "test"
    models: tuple[ModelRecord, ...]
    summary: dict[str, Any] = Field(default_factory=dict)

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    def goals(self) -> list[tuple[str, Goal]]:
        return [(m.model, g) for m in self.models for g in m.goals]


def write_metrics(path: str | Path, record: MetricsFile) -> None:
    """Validate and write a metrics file atomically (JSON, non-finite numbers as null)."""
    write_json(path, _finite(record.model_dump(mode="json", by_alias=True)))


def read_metrics(path: str | Path) -> MetricsFile:
    """Read and validate a metrics file; a file of another shape is a one-line error."""
    return read_validated(path, MetricsFile, f"a {SCHEMA} record",
                          "re-run the evaluation rule that writes it")


def _finite(obj: Any) -> Any:
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, Mapping):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_finite(v) for v in obj]
    return obj


def json_schema() -> dict[str, Any]:
    """The JSON schema of a metrics file (for external tools and the tests)."""
    return MetricsFile.model_json_schema(by_alias=True)
