"""`python -m distillery.tracking sync --results results [--uri URI]`."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from distillery.tracking.settings import TrackingSettings
from distillery.tracking.sync import sync


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m distillery.tracking",
                                     description="MLflow tracking of the workflow's jobs.")
    commands = parser.add_subparsers(dest="command", required=True)
    replay = commands.add_parser("sync", help="replay runs queued while the store was down")
    replay.add_argument("--results", default="results", help="the workflow's results directory")
    replay.add_argument("--uri", default=None,
                        help="log to this tracking URI instead of the one each run was meant for")
    replay.add_argument("--timeout", type=float, default=None,
                        help="seconds to wait for the tracking server per request")
    args = parser.parse_args(argv)

    settings = TrackingSettings() if args.timeout is None else TrackingSettings(
        http_timeout_s=args.timeout)
    report = sync(args.results, args.uri, settings)
    for path, run_id in report.synced.items():
        print(f"synced {path} -> run {run_id}")
    for path, why in report.failed.items():
        print(f"ERROR: {path}: {why}", file=sys.stderr)
    if not report.synced and not report.failed:
        print(f"nothing to sync under {args.results}/tracking_pending/")
    return 1 if report.failed else 0
