"""Rebuild the project database from everything under results/.

The new database is written to a temporary file beside the old one and renamed over it, so
a crash leaves the old database intact, and rebuilding twice gives identical tables.
"""

from __future__ import annotations

import os
import sqlite3
import sys
from dataclasses import dataclass, field
from pathlib import Path

from distillery.db import sources
from distillery.db.schema import ensure_schema, refresh_metrics_view
from distillery.db.write import (
    RUN_CONFIG,
    fill_tracks,
    store_benchmark,
    store_configs,
    store_datasets,
    store_metrics,
    store_run,
)
from distillery.errors import DistilleryError, reason
from distillery.io import atomic_path
from distillery.metrics.record import read_metrics

DB_NAME = "project.db"
# MLflow's own stores and queue, and hidden directories, hold no results of ours
_SKIP_DIRS = {"mlruns", "tracking_pending"}


@dataclass
class RebuildReport:
    rows: dict[str, int] = field(default_factory=dict)  # table -> rows
    skipped: dict[str, str] = field(default_factory=dict)  # file -> why it was left out


def _result_files(results_dir: Path) -> list[Path]:
    found = []
    for root, dirs, files in os.walk(results_dir):
        dirs[:] = sorted(d for d in dirs if d not in _SKIP_DIRS and not d.startswith("."))
        found += [Path(root, f) for f in files]
    return sorted(found)


def _fill(conn: sqlite3.Connection, results: Path, report: RebuildReport) -> None:
    config = None
    config_path = results / RUN_CONFIG
    if config_path.is_file():
        try:
            config = sources.read_run_config(config_path)
            source = sources.relative(config_path, results)
            store_configs(conn, sources.config_rows(config, source), source)
        except (DistilleryError, OSError, ValueError) as exc:
            report.skipped[str(config_path)] = reason(exc)
    claimed: dict[tuple[str, str], Path] = {}
    for path in _result_files(results):
        # a file that fails half-way leaves none of its rows behind
        conn.execute("SAVEPOINT file")
        try:
            if path.name == "metrics.json":
                record = read_metrics(path)
                key = (record.dataset, record.variant)
                if key in claimed:
                    report.skipped[str(claimed[key])] = (
                        f"{path} holds the same dataset {key[0]!r} and variant {key[1]!r}")
                claimed[key] = path
                store_metrics(conn, record, sources.relative(path, results))
            elif path.name.endswith(".provenance.json") and path.parent.name == "logs":
                store_run(conn, sources.provenance_row(path, results))
            elif path.suffix == ".tsv" and path.parent.name == "benchmarks":
                store_benchmark(conn, sources.benchmark_rows(path, results))
        except (DistilleryError, OSError, ValueError, KeyError, sqlite3.IntegrityError) as exc:
            conn.execute("ROLLBACK TO file")
            report.skipped[str(path)] = reason(exc)
        conn.execute("RELEASE file")
    for name in sources.dataset_names(results, config):
        try:
            store_datasets(conn, [sources.dataset_row(results, name, config)])
        except (DistilleryError, OSError, ValueError, KeyError) as exc:
            report.skipped[f"{results / name / 'data'}"] = reason(exc)
    fill_tracks(conn)
    refresh_metrics_view(conn)


def rebuild(results_dir: str | Path, db_path: str | Path | None = None) -> RebuildReport:
    """Backfill every table from results/ (default database: `<results>/project.db`).

    Files that cannot be read (a metrics.json of another shape, a broken TSV) are left out
    and listed in the report, with one warning line each, rather than stopping the rebuild.
    """
    results = Path(results_dir)
    if not results.is_dir():
        raise DistilleryError(f"{results}: no results directory; fix: run the workflow "
                              "first or pass --results")
    target = Path(db_path) if db_path is not None else results / DB_NAME
    report = RebuildReport()
    with atomic_path(target) as tmp:
        conn = sqlite3.connect(tmp, isolation_level=None)
        try:
            ensure_schema(conn)
            conn.execute("BEGIN")
            _fill(conn, results, report)
            conn.execute("COMMIT")
            for (table,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table' "
                                         "ORDER BY name").fetchall():
                report.rows[table] = conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]
        finally:
            conn.close()
    for path, why in report.skipped.items():
        print(f"WARNING: {path}: left out of {target}: {why}", file=sys.stderr)
    return report
