"""Writing the project database: upserts keyed so that a rerun replaces its own rows.

A rule calls `write_through` with the files it just wrote (metrics.json, its provenance, a
benchmark TSV, the run config, data summaries); other files are ignored, so passing every
output is fine. Each call is one transaction: readers see all of a file's rows or none.
"""

from __future__ import annotations

import contextlib
import sqlite3
import sys
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from distillery.db import sources
from distillery.db.schema import ensure_schema, refresh_metrics_view
from distillery.errors import DistilleryError, InputError, reason
from distillery.metrics.record import MetricsFile, read_metrics

RUN_CONFIG = Path("report") / "run_config.yaml"
_METRICS_TABLES = ("models", "metric_values", "goals", "summaries")


@contextlib.contextmanager
def transaction(db_path: str | Path, timeout: float = 60.0) -> Iterator[sqlite3.Connection]:
    """A write transaction on the database (created with its tables if need be); taken
    IMMEDIATE so concurrent jobs queue for the lock (up to `timeout` s) instead of failing."""
    Path(db_path).parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(db_path, timeout=timeout, isolation_level=None)
    try:
        ensure_schema(conn)  # executescript commits by itself: before our transaction
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")
    finally:
        conn.close()


def _insert(conn: sqlite3.Connection, table: str, rows: Sequence[Mapping[str, Any]],
            replace: bool = False) -> int:
    if not rows:
        return 0
    columns = list(rows[0])
    verb = "INSERT OR REPLACE" if replace else "INSERT"
    conn.executemany(
        f"{verb} INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})",
        [tuple(row[c] for c in columns) for row in rows])
    return len(rows)


def store_metrics(conn: sqlite3.Connection, record: MetricsFile, source: str) -> int:
    """Replace the rows of the record's dataset and variant (models may have changed)."""
    for table in _METRICS_TABLES:
        conn.execute(f"DELETE FROM {table} WHERE dataset = ? AND variant = ?",
                     (record.dataset, record.variant))
    rows = sources.metrics_rows(record, source)
    count = sum(_insert(conn, table, rows[table]) for table in _METRICS_TABLES)
    refresh_metrics_view(conn)
    return count


def store_run(conn: sqlite3.Connection, row: Mapping[str, Any]) -> int:
    return _insert(conn, "runs", [row], replace=True)


def store_benchmark(conn: sqlite3.Connection, rows: Sequence[Mapping[str, Any]]) -> int:
    for path in {row["path"] for row in rows}:
        conn.execute("DELETE FROM benchmarks WHERE path = ?", (path,))
    return _insert(conn, "benchmarks", rows)


def store_configs(conn: sqlite3.Connection, rows: Sequence[Mapping[str, Any]],
                  source: str) -> int:
    conn.execute("DELETE FROM configs WHERE source = ?", (source,))
    return _insert(conn, "configs", rows, replace=True)


def store_datasets(conn: sqlite3.Connection, rows: Sequence[Mapping[str, Any]]) -> int:
    return _insert(conn, "datasets", rows, replace=True)


def fill_tracks(conn: sqlite3.Connection) -> None:
    """A dataset whose config is not recorded takes its track from its metrics."""
    conn.execute("UPDATE datasets SET track = (SELECT MIN(track) FROM models "
                 "WHERE models.dataset = datasets.name) WHERE track IS NULL")


def run_config(results_dir: Path) -> Mapping[str, Any] | None:
    path = results_dir / RUN_CONFIG
    return sources.read_run_config(path) if path.is_file() else None


def _kind(path: Path) -> str | None:
    """Which table a result file feeds, by its place in the results layout."""
    if path.name == "metrics.json":
        return "metrics"
    if path.name.endswith(".provenance.json"):
        return "runs"
    if path.suffix == ".tsv" and path.parent.name == "benchmarks":
        return "benchmarks"
    if path.name == "run_config.yaml":
        return "configs"
    if path.name == "data_summary.csv" or (
            path.parent.name == "data" and path.name in ("summary.json", "splits.json")):
        return "datasets"
    return None


def _write_file(conn: sqlite3.Connection, path: Path, kind: str, results: Path) -> int:
    if kind == "metrics":
        return store_metrics(conn, read_metrics(path), sources.relative(path, results))
    if kind == "runs":
        return store_run(conn, sources.provenance_row(path, results))
    if kind == "benchmarks":
        return store_benchmark(conn, sources.benchmark_rows(path, results))
    if kind == "configs":
        config = sources.read_run_config(path)
        source = sources.relative(path, results)
        # the config names every dataset's track and format: refresh their rows too
        return store_configs(conn, sources.config_rows(config, source), source) + \
            store_datasets(conn, [sources.dataset_row(results, n, config)
                                  for n in sources.dataset_names(results, config)])
    config = run_config(results)
    names = (sources.dataset_names(results, config) if path.name == "data_summary.csv"
             else [path.parent.parent.name])
    return store_datasets(conn, [sources.dataset_row(results, n, config) for n in names])


def write_through(db_path: str | Path, results_dir: str | Path,
                  paths: Iterable[str | Path], strict: bool = False,
                  timeout: float = 60.0) -> dict[str, int]:
    """Record the result files a job just wrote; returns rows written per table kind.

    A malformed result file raises InputError (the job wrote something wrong). The database
    itself is derived from results/ and can be rebuilt, so when it cannot be written (locked
    by other jobs for over `timeout` s, read-only disk) the job goes on after one warning
    line, unless `strict`.
    """
    results = Path(results_dir)
    files = [(Path(p), kind) for p in paths if (kind := _kind(Path(p))) is not None]
    for path, _ in files:
        if not path.is_file():
            raise InputError(path, "(file)", "missing", "a result file the job has written")
    counts: dict[str, int] = {}
    try:
        with transaction(db_path, timeout) as conn:
            for path, kind in files:
                counts[kind] = counts.get(kind, 0) + _write_file(conn, path, kind, results)
            fill_tracks(conn)
    except sqlite3.Error as exc:
        message = (f"project database {db_path} not updated: {reason(exc)}; fix: python -m "
                   f"distillery.db rebuild --results {results}")
        if strict:
            raise DistilleryError(message) from exc
        print(f"WARNING: {message}", file=sys.stderr, flush=True)
        return {}
    return counts
