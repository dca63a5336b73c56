"""`python -m distillery.db query "SQL" [--csv|--json]` and `... rebuild --results results`."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from distillery.db.backfill import DB_NAME, rebuild
from distillery.db.query import as_csv, as_json, as_table, query
from distillery.errors import DistilleryError


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m distillery.db",
                                     description="The project database (SQLite).")
    parser.add_argument("--results", default="results", help="the workflow's results directory")
    parser.add_argument("--db", default=None, help=f"database file (default <results>/{DB_NAME})")
    commands = parser.add_subparsers(dest="command", required=True)
    ask = commands.add_parser("query", help="run one read-only SQL statement")
    ask.add_argument("sql")
    style = ask.add_mutually_exclusive_group()
    style.add_argument("--csv", action="store_true", help="print CSV")
    style.add_argument("--json", action="store_true", help="print a JSON list of objects")
    commands.add_parser("rebuild", help="backfill every table from the results directory")
    # also accept the options after the command: `rebuild --results results`
    for sub in (ask, commands.choices["rebuild"]):
        sub.add_argument("--results", default=argparse.SUPPRESS)
        sub.add_argument("--db", default=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    db = Path(args.db) if args.db else Path(args.results) / DB_NAME

    try:
        if args.command == "rebuild":
            report = rebuild(args.results, db)
            counts = ", ".join(f"{t} {n}" for t, n in sorted(report.rows.items()))
            print(f"{db}: {counts}" + (f"; {len(report.skipped)} file(s) left out"
                                       if report.skipped else ""))
            return 0
        result = query(db, args.sql)
    except DistilleryError as exc:
        print(f"ERROR: {exc}", file=sys.stderr)
        return 1
    fmt = as_csv if args.csv else as_json if args.json else as_table
    sys.stdout.write(fmt(result))
    return 0
