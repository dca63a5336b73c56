"""The pending queue: runs that could not reach the tracking store, one JSON file each.

Files live under `<results>/tracking_pending/`, are written atomically, and are removed once
`python -m distillery.tracking sync` has replayed them.
"""

from __future__ import annotations

import re
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from distillery.base_settings import read_validated
from distillery.io import write_json

SCHEMA = "distillery.tracking.pending/1"
PENDING_DIR = "tracking_pending"


class MetricPoint(BaseModel):
    model_config = ConfigDict(extra="forbid")

    key: str
    value: float | None  # NaN is stored as null (strict JSON)
    step: int
    timestamp: int  # ms since the epoch, as MLflow keeps it


class Artifact(BaseModel):
    model_config = ConfigDict(extra="forbid")

    path: str  # absolute local path
    artifact_path: str | None = None


class RunRecord(BaseModel):
    """Everything a run logged: enough to replay it into any MLflow store."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    schema_: str = Field(SCHEMA, alias="schema")
    key: str  # our id; also the run's `distillery.run_key` tag, so a replay finds the run
    uri: str
    experiment: str
    artifact_location: str | None = None
    run_name: str
    start_time: int
    end_time: int | None = None
    status: str = "RUNNING"
    tags: dict[str, str] = Field(default_factory=dict)
    params: dict[str, str] = Field(default_factory=dict)
    metrics: list[MetricPoint] = Field(default_factory=list)
    artifacts: list[Artifact] = Field(default_factory=list)
    reason: str = ""


def pending_dir(results_dir: str | Path) -> Path:
    return Path(results_dir) / PENDING_DIR


def pending_path(results_dir: str | Path, record: RunRecord) -> Path:
    """`<results>/tracking_pending/<start ms>-<run name>-<key>.json`: sorted = started order."""
    name = re.sub(r"[^A-Za-z0-9_.-]+", "_", record.run_name).strip("_")[:80]
    return pending_dir(results_dir) / f"{record.start_time:013d}-{name}-{record.key}.json"


def write_pending(path: Path, record: RunRecord) -> None:
    write_json(path, record.model_dump(mode="json", by_alias=True))


def read_pending(path: str | Path) -> RunRecord:
    return read_validated(path, RunRecord, f"a {SCHEMA} record")


def list_pending(results_dir: str | Path) -> list[Path]:
    return sorted(pending_dir(results_dir).glob("*.json"))
