"""Load a run's metrics records into the project database before anything reads them.

Every job writes its outputs through to the database as it ends, but not strictly: a job
that finds the database locked for too long goes on after a warning, and records written
before the database existed are not in it. The `db_sync` rule therefore (re)loads every
registered metrics record in one transaction and writes a manifest of what it loaded; the
leaderboard and the notebook depend on that manifest, so the DAG orders them after the load,
and they read only the records it names (a stale record of a dataset no longer configured
stays in the database but off the leaderboard).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from distillery.base_settings import read_validated
from distillery.db import sources
from distillery.db.write import fill_tracks, store_metrics, transaction
from distillery.errors import DistilleryError, InputError, reason
from distillery.io import write_json
from distillery.metrics.record import read_metrics


class SyncedRecord(BaseModel):
    """One metrics record in the database: `source` as its `models.source` rows name it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    source: str
    dataset: str
    variant: str
    models: int


class SyncManifest(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    records: tuple[SyncedRecord, ...]


def sync_metrics(db_path: str | Path, results_dir: str | Path,
                 paths: Iterable[str | Path], timeout: float = 60.0) -> SyncManifest:
    """(Re)load these metrics records in one transaction; loading them again changes nothing.

    Two records of one dataset and variant would replace each other's rows (a sweep seed run
    twice, a copied file): an InputError naming both. Strict where per-job write-through is
    not: a database still locked after `timeout` s fails the job, as a leaderboard built
    from it would silently miss models. (SQLite's default rollback journal, not WAL: WAL
    needs shared memory, which the shared filesystems of the SLURM profile do not give.)
    """
    results = Path(results_dir)
    claimed: dict[tuple[str, str], Path] = {}
    loaded = []
    for path in map(Path, paths):
        record = read_metrics(path)
        key = (record.dataset, record.variant)
        if key in claimed:
            raise InputError(path, "dataset/variant", f"{key[0]}/{key[1]} also in {claimed[key]}",
                             "one metrics record per dataset and variant",
                             "give each run of a sweep its own variant")
        claimed[key] = path
        loaded.append((record, sources.relative(path, results)))
    try:
        with transaction(db_path, timeout) as conn:
            for record, source in loaded:
                store_metrics(conn, record, source)
            fill_tracks(conn)
    except sqlite3.Error as exc:
        raise DistilleryError(f"project database {db_path} not updated: {reason(exc)}; fix: "
                              "rerun when the jobs that hold it have finished") from exc
    return SyncManifest(records=tuple(
        SyncedRecord(source=source, dataset=record.dataset, variant=record.variant,
                     models=len(record.models)) for record, source in loaded))


def write_manifest(path: str | Path, manifest: SyncManifest) -> None:
    write_json(path, manifest.model_dump(mode="json"))


def read_manifest(path: str | Path) -> SyncManifest:
    return read_validated(path, SyncManifest, "a db_sync manifest",
                          "rerun the db_sync rule that writes it")
