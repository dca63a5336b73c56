"""`tracked_run`: one MLflow run per workflow job, which never stops the science.

Everything a run logs is also kept in memory, so when the store cannot be reached (at the
start or half-way) the job goes on, prints one warning line, and the whole run is queued as
a JSON file for `python -m distillery.tracking sync`. With `strict` it fails instead.
"""

from __future__ import annotations

import contextlib
import json
import platform
import sys
import time
import uuid
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from distillery.errors import DistilleryError, reason
from distillery.metrics.record import MetricsFile
from distillery.tracking.context import git_commit, workflow_run_id
from distillery.tracking.flatten import (
    MAX_TAG_VALUE_LENGTH,
    clean_key,
    clip,
    number,
    param_values,
    record_metrics,
)
from distillery.tracking.pending import (
    Artifact,
    MetricPoint,
    RunRecord,
    pending_path,
    write_pending,
)
from distillery.tracking.settings import TrackingSettings


def _now_ms() -> int:
    return int(time.time() * 1000)


def _tag_values(tags: Mapping[str, Any]) -> dict[str, str]:
    return {clean_key(k): clip(str(v), MAX_TAG_VALUE_LENGTH) for k, v in tags.items()}


class NullRun:
    """What `tracked_run` yields when tracking is disabled: every call does nothing."""

    run_id: str | None = None
    online = False
    pending_file: Path | None = None

    def log_params(self, params: Any) -> None:
        pass

    def set_tags(self, tags: Mapping[str, Any]) -> None:
        pass

    def log_epoch(self, step: int, metrics: Mapping[str, Any]) -> None:
        pass

    def log_metrics(self, metrics: Mapping[str, Any], step: int = 0) -> None:
        pass

    def log_metrics_file(self, record: MetricsFile, step: int = 0) -> None:
        pass

    def log_artifact(self, path: str | Path, artifact_path: str | None = None) -> None:
        pass


class TrackedRun(NullRun):
    """A live MLflow run, or (once the store failed) a run queued for `sync`."""

    def __init__(self, settings: TrackingSettings, results_dir: Path, record: RunRecord) -> None:
        self.settings = settings
        self.results_dir = results_dir
        self.record = record
        self.pending_file = pending_path(results_dir, record)
        self.run_id: str | None = None
        self._store: Any = None

    @property
    def online(self) -> bool:  # type: ignore[override]
        return self._store is not None and self.run_id is not None

    def _start(self) -> None:
        try:
            from distillery.tracking.store import Store

            self._store = Store(self.record.uri, self.settings)
            experiment_id = self._store.experiment_id(self.record.experiment,
                                                      self.record.artifact_location)
            self.run_id = self._store.create_run(experiment_id, self.record)
        except Exception as exc:
            self._fail(exc)

    def _fail(self, exc: BaseException) -> None:
        self._store = None
        self.record.reason = reason(exc)
        if self.settings.strict:
            raise DistilleryError(
                f"MLflow tracking store {self.record.uri}: {self.record.reason}; fix: start "
                "the tracking server or set tracking.strict: false") from exc
        print(f"WARNING: MLflow tracking store {self.record.uri} unavailable "
              f"({self.record.reason}); the run is queued in {self.pending_file}; replay it "
              f"with: python -m distillery.tracking sync --results {self.results_dir}",
              file=sys.stderr, flush=True)

    def _live(self, method: str, *args: Any) -> None:
        if not self.online:
            return
        try:
            getattr(self._store, method)(self.run_id, *args)
        except Exception as exc:
            self._fail(exc)

    def log_params(self, params: Any) -> None:
        """Flattened dotted settings; MLflow params are write-once, so a key keeps its value."""
        new = {}
        for key, value in param_values(params).items():
            old = self.record.params.get(key)
            if old is None:
                new[key] = value
            elif old != value:
                raise ValueError(f"param {key} already logged as {old!r}, not {value!r}")
        self.record.params.update(new)
        self._live("log_params", new)

    def set_tags(self, tags: Mapping[str, Any]) -> None:
        values = _tag_values(tags)
        self.record.tags.update(values)
        self._live("set_tags", values)

    def log_metrics(self, metrics: Mapping[str, Any], step: int = 0) -> None:
        """Numeric values at `step` (non-numeric and missing values are left out)."""
        stamp = _now_ms()
        points = [MetricPoint(key=clean_key(k), value=v, step=int(step), timestamp=stamp)
                  for k, raw in metrics.items() if (v := number(raw)) is not None]
        self.record.metrics.extend(points)
        self._live("log_metrics", points)

    def log_epoch(self, step: int, metrics: Mapping[str, Any]) -> None:
        """One epoch's row of the metrics table (e.g. `train_loss`, `val_f_mae`, `lr`)."""
        self.log_metrics(metrics, step)

    def log_metrics_file(self, record: MetricsFile, step: int = 0) -> None:
        """A metrics record as `<model>.<metric>` metrics; its track and variant as tags."""
        self.set_tags({"track": record.track, "variant": record.variant})
        self.log_metrics(record_metrics(record), step)

    def log_artifact(self, path: str | Path, artifact_path: str | None = None) -> None:
        local = str(Path(path).resolve())
        self.record.artifacts.append(Artifact(path=local, artifact_path=artifact_path))
        self._live("log_artifact", local, artifact_path)

    def _close(self, exc: BaseException | None) -> None:
        if exc is None or (isinstance(exc, SystemExit) and exc.code in (0, None)):
            status = "FINISHED"
        elif isinstance(exc, KeyboardInterrupt | SystemExit):
            status = "KILLED"
        else:
            status = "FAILED"
        self.record.status = status
        self.record.end_time = _now_ms()
        try:
            self._live("finish", status, self.record.end_time)
        except DistilleryError as error:
            if exc is None:
                raise
            # the job's own error is what the log must end with
            print(f"WARNING: {error}", file=sys.stderr, flush=True)
        if not self.online:
            write_pending(self.pending_file, self.record)


def _run_record(settings: TrackingSettings, results_dir: Path, dataset: str, rule: str,
                wildcards: Mapping[str, Any], params: Any, tags: Mapping[str, Any],
                variant: str, run_id: str | None) -> RunRecord:
    experiment = settings.experiment(dataset)
    others = ",".join(f"{k}={v}" for k, v in wildcards.items() if k != "dataset")
    commit = git_commit()
    all_tags: dict[str, Any] = {
        "rule": rule, "dataset": dataset, "variant": variant,
        "wildcards": json.dumps(dict(wildcards), sort_keys=True),
        **{f"wildcard.{k}": v for k, v in wildcards.items()},
        "git_commit": commit, "mlflow.source.git.commit": commit, "host": platform.node(),
    }
    if (workflow_id := workflow_run_id(run_id)) is not None:
        all_tags["snakemake_run_id"] = workflow_id
    all_tags.update(tags)
    return RunRecord(
        key=uuid.uuid4().hex, uri=settings.tracking_uri(results_dir), experiment=experiment,
        artifact_location=settings.artifact_location(results_dir, experiment),
        run_name=f"{rule} {others}".strip(), start_time=_now_ms(), tags=_tag_values(all_tags),
        params=param_values(params))


@contextlib.contextmanager
def tracked_run(
    settings: TrackingSettings | Mapping[str, Any] | None,
    results_dir: str | Path,
    *,
    dataset: str,
    rule: str,
    wildcards: Mapping[str, Any] | None = None,
    params: Any = None,
    tags: Mapping[str, Any] | None = None,
    variant: str = "default",
    run_id: str | None = None,
) -> Iterator[NullRun]:
    """One MLflow run in the experiment of `dataset`, ended FINISHED, FAILED or KILLED.

    `params` (a mapping or pydantic settings) become dotted params; `run_id` is the workflow
    invocation's id (default $DISTILLERY_RUN_ID). Yields a `TrackedRun`, or a `NullRun` when
    `settings.enabled` is false (then mlflow is not even imported).
    """
    settings = TrackingSettings.model_validate(settings or {})
    if not settings.enabled:
        yield NullRun()
        return
    results = Path(results_dir)
    record = _run_record(settings, results, dataset, rule, dict(wildcards or {}), params,
                         dict(tags or {}), variant, run_id)
    run = TrackedRun(settings, results, record)
    run._start()
    try:
        yield run
    except BaseException as exc:
        run._close(exc)
        raise
    run._close(None)


def tracked_job(snakemake: Any, *, params: Any = None, tags: Mapping[str, Any] | None = None,
                variant: str = "default",
                dataset: str | None = None) -> contextlib.AbstractContextManager[NullRun]:
    """`tracked_run` for a workflow script: settings from the config's `tracking:` section,
    results directory from `results:`, rule and wildcards from the job, params (by default
    the rule's `params:`) as dotted MLflow params; the experiment is `dataset`'s (by default
    the job's `dataset` wildcard)."""
    config = getattr(snakemake, "config", {}) or {}
    wildcards = dict(getattr(snakemake, "wildcards", {}).items())
    if params is None:
        params = dict(getattr(snakemake, "params", {}).items())
    return tracked_run(config.get("tracking"), config.get("results", "results"),
                       dataset=dataset or str(wildcards.get("dataset", "all")),
                       rule=getattr(snakemake, "rule", "script"), wildcards=wildcards,
                       params=params, tags=tags, variant=variant)
