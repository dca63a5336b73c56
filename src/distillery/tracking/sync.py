"""Replay queued runs (`<results>/tracking_pending/*.json`) into their tracking store."""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path

from distillery.errors import reason
from distillery.tracking.pending import list_pending, read_pending
from distillery.tracking.settings import TrackingSettings


@dataclass
class SyncReport:
    synced: dict[str, str] = field(default_factory=dict)  # pending file -> MLflow run id
    failed: dict[str, str] = field(default_factory=dict)  # pending file -> one-line reason


def sync(results_dir: str | Path, uri: str | None = None,
         settings: TrackingSettings | None = None) -> SyncReport:
    """Log every queued run to `uri` (default: the store it was meant for), oldest first.

    A replayed file is deleted; a failed one stays for the next sync. Replaying is idempotent:
    earlier runs of the same job (a partial live run, an interrupted replay) are deleted first.
    """
    from distillery.tracking.store import Store

    settings = settings or TrackingSettings()
    stores: dict[str, Store] = {}
    report = SyncReport()
    for path in list_pending(results_dir):
        try:
            record = read_pending(path)
            target = uri or record.uri
            if target not in stores:
                stores[target] = Store(target, settings)
            # the local artifact root only belongs to the store the run was meant for
            location = record.artifact_location if target == record.uri else None
            run_id, missing = stores[target].replay(record, location)
        except Exception as exc:
            report.failed[str(path)] = reason(exc)
            continue
        for lost in missing:
            print(f"WARNING: {path.name}: artifact {lost} no longer exists; not logged",
                  file=sys.stderr)
        path.unlink()
        report.synced[str(path)] = run_id
    return report
