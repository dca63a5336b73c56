"""A workflow script's MLflow run: opened around its `main`, fed by every training history,
closed with the job's outputs (metrics records, figures, models) logged.

`distillery.workflow.run_script(main, snakemake, tracked=True)` is the one line a training or
evaluation script needs; data and report scripts stay untracked (an MLflow run costs seconds).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from distillery.io import read_json
from distillery.metrics.record import read_metrics
from distillery.sweeps import split_variant
from distillery.tracking.flatten import numeric_leaves
from distillery.tracking.run import NullRun, tracked_job
from distillery.tracking.settings import TrackingSettings
from distillery.train.history import Row, observe

FIGURES = (".png", ".svg", ".pdf", ".html")


def epoch_metrics(row: Row) -> tuple[int, dict[str, float | None]]:
    """A history row -> (step, metrics): the epoch is the step, every other number a metric."""
    metrics = numeric_leaves({k: v for k, v in row.items() if k != "epoch"})
    return int(row.get("epoch", 0)), metrics


def output_files(output: Any) -> list[Path]:
    """The job's output files (directories and files it did not write are left out)."""
    return [Path(p) for p in dict.fromkeys(str(p) for p in output) if Path(p).is_file()]


def log_outputs(run: NullRun, paths: list[Path], max_bytes: int) -> None:
    """Metrics records as metrics, other JSON summaries' numbers as `<file stem>.<key>`, and
    every file up to `max_bytes` as an artifact (figures under `figures/`)."""
    for path in paths:
        if path.name == "metrics.json":
            run.log_metrics_file(read_metrics(path))
        elif path.suffix == ".json":
            content = read_json(path)
            if isinstance(content, Mapping):
                run.log_metrics(numeric_leaves(content, f"{path.stem}."))
        if path.stat().st_size > max_bytes:
            print(f"tracking: {path} ({path.stat().st_size} bytes) not logged as an artifact: "
                  f"over tracking.max_artifact_mb", flush=True)
            continue
        run.log_artifact(path, "figures" if path.suffix in FIGURES else None)


@contextlib.contextmanager
def tracked_script(snakemake: Any) -> Iterator[NullRun]:
    """The MLflow run of one job: experiment of the base dataset, tagged with the sweep
    variant; per-epoch rows of any `MetricsHistory` logged at step = epoch while it runs."""
    wildcards = dict(getattr(snakemake, "wildcards", {}).items())
    dataset, variant = split_variant(str(wildcards.get("dataset", "all")))
    settings = TrackingSettings.model_validate(
        (getattr(snakemake, "config", {}) or {}).get("tracking") or {})
    with tracked_job(snakemake, dataset=dataset, variant=variant) as run:
        def log_row(row: Row) -> None:
            run.log_epoch(*epoch_metrics(row))

        with observe(log_row):
            yield run
        log_outputs(run, output_files(snakemake.output), settings.max_artifact_mb * 2**20)
