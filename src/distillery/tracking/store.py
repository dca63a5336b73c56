"""The only module that talks to MLflow: explicit run ids through `MlflowClient`, no global
active run, so two runs in one process (or a replay beside a live run) never mix."""

from __future__ import annotations

import contextlib
import fcntl
import math
import os
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, TypeVar

from distillery.tracking.pending import MetricPoint, RunRecord
from distillery.tracking.settings import TrackingSettings

RUN_KEY_TAG = "distillery.run_key"
_BATCH_METRICS = 1000  # MLflow's per-request limits
_BATCH_PARAMS = 100
T = TypeVar("T")


@contextlib.contextmanager
def _http_limits(settings: TrackingSettings) -> Iterator[None]:
    """MLflow reads its HTTP retry and timeout settings from the environment at each request;
    set ours for the duration of one call and restore whatever was there."""
    wanted = {
        "MLFLOW_HTTP_REQUEST_MAX_RETRIES": str(settings.http_retries),
        "MLFLOW_HTTP_REQUEST_TIMEOUT": str(math.ceil(settings.http_timeout_s)),
        "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1",
    }
    saved = {k: os.environ.get(k) for k in wanted}
    os.environ.update(wanted)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@contextlib.contextmanager
def _first_use_lock(uri: str) -> Iterator[None]:
    """MLflow creates and migrates a SQLite store's tables on first use, and two jobs doing
    that at once break each other ("table runs already exists"): let one go first."""
    if not uri.startswith("sqlite:///"):
        yield
        return
    path = Path(uri.removeprefix("sqlite:///"))
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_name(path.name + ".lock"), "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _chunks(items: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


class Store:
    """One MLflow tracking store (a URI), every call bounded by the settings' HTTP limits."""

    def __init__(self, uri: str, settings: TrackingSettings) -> None:
        from mlflow import MlflowClient  # imported only when tracking is enabled

        self.uri = uri
        self.settings = settings
        with _http_limits(settings), _first_use_lock(uri):
            self.client = MlflowClient(tracking_uri=uri)
            self.client.get_experiment_by_name("Default")  # opens (and creates) the store

    def _call(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        with _http_limits(self.settings):
            return fn(*args, **kwargs)

    def experiment_id(self, name: str, artifact_location: str | None) -> str:
        """Id of the named experiment, created (or restored from deleted) if need be."""
        experiment = self._call(self.client.get_experiment_by_name, name)
        if experiment is None:
            try:
                return self._call(self.client.create_experiment, name, artifact_location)
            except Exception:
                # another job created it between our two calls
                experiment = self._call(self.client.get_experiment_by_name, name)
                if experiment is None:
                    raise
        if experiment.lifecycle_stage == "deleted":
            self._call(self.client.restore_experiment, experiment.experiment_id)
        return experiment.experiment_id

    def create_run(self, experiment_id: str, record: RunRecord) -> str:
        """Start a run with the record's tags and params; return its MLflow run id."""
        run = self._call(self.client.create_run, experiment_id, start_time=record.start_time,
                         tags={**record.tags, RUN_KEY_TAG: record.key},
                         run_name=record.run_name)
        self.log_params(run.info.run_id, record.params)
        return run.info.run_id

    def log_params(self, run_id: str, params: dict[str, str]) -> None:
        from mlflow.entities import Param

        items = [Param(k, v) for k, v in params.items()]
        for chunk in _chunks(items, _BATCH_PARAMS):
            self._call(self.client.log_batch, run_id, params=chunk)

    def set_tags(self, run_id: str, tags: dict[str, str]) -> None:
        from mlflow.entities import RunTag

        items = [RunTag(k, v) for k, v in tags.items()]
        for chunk in _chunks(items, _BATCH_PARAMS):
            self._call(self.client.log_batch, run_id, tags=chunk)

    def log_metrics(self, run_id: str, points: Sequence[MetricPoint]) -> None:
        from mlflow.entities import Metric

        items = [Metric(p.key, math.nan if p.value is None else p.value, p.timestamp, p.step)
                 for p in points]
        for chunk in _chunks(items, _BATCH_METRICS):
            self._call(self.client.log_batch, run_id, metrics=chunk)

    def log_artifact(self, run_id: str, path: str, artifact_path: str | None) -> None:
        self._call(self.client.log_artifact, run_id, path, artifact_path)

    def finish(self, run_id: str, status: str, end_time: int | None) -> None:
        self._call(self.client.set_terminated, run_id, status, end_time)

    def delete_runs_with_key(self, experiment_id: str, key: str) -> int:
        """Delete earlier (partial) runs of the same job, so a replay leaves exactly one."""
        runs = self._call(self.client.search_runs, [experiment_id],
                          filter_string=f"tags.`{RUN_KEY_TAG}` = '{key}'")
        for run in runs:
            self._call(self.client.delete_run, run.info.run_id)
        return len(runs)

    def replay(self, record: RunRecord, artifact_location: str | None) -> tuple[str, list[str]]:
        """Log a queued run in full; returns its run id and the artifacts no longer on disk."""
        experiment_id = self.experiment_id(record.experiment, artifact_location)
        self.delete_runs_with_key(experiment_id, record.key)
        run_id = self.create_run(experiment_id, record)
        self.log_metrics(run_id, record.metrics)
        missing = []
        for artifact in record.artifacts:
            if Path(artifact.path).exists():
                self.log_artifact(run_id, artifact.path, artifact.artifact_path)
            else:
                missing.append(artifact.path)
        status = "KILLED" if record.status == "RUNNING" else record.status
        self.finish(run_id, status, record.end_time)
        return run_id, missing
