"""Glue between Snakemake `script:` rules and the package: logging, errors, provenance."""

from __future__ import annotations

import contextlib
import json
import platform
import sys
import time
import traceback
from collections.abc import Callable
from importlib import metadata
from pathlib import Path
from typing import Any, TextIO

from pydantic import BaseModel

from distillery.db import DB_NAME, write_through
from distillery.errors import DistilleryError
from distillery.io import write_json
from distillery.tracking.context import git_commit

_TRACKED_PACKAGES = (
    "distillery", "numpy", "pandas", "pyarrow", "pandera", "jax", "jaxlib", "flax", "optax",
    "torch", "torch-geometric", "ase", "snakemake",
)


class _Tee:
    """Write to the original stream and to the rule's log file, unbuffered."""

    def __init__(self, stream: TextIO, log: TextIO) -> None:
        self._stream = stream
        self._log = log

    def write(self, text: str) -> int:
        self._stream.write(text)
        self._stream.flush()
        self._log.write(text)
        self._log.flush()
        return len(text)

    def flush(self) -> None:
        self._stream.flush()
        self._log.flush()

    def isatty(self) -> bool:
        return False

    def fileno(self) -> int:
        return self._stream.fileno()


def package_versions() -> dict[str, str]:
    """Versions of the packages that shape results, recorded next to every result."""
    versions = {"python": platform.python_version()}
    for name in _TRACKED_PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return versions


def run_script(main: Callable[[Any], None], snakemake: Any, tracked: bool = False) -> None:
    """Run a workflow script's `main(snakemake)` with its log, and a one-line error on failure.

    `tracked` (training and evaluation scripts) logs the job as an MLflow run (see
    `distillery.tracking.job`). Every job's outputs and provenance are then written through
    to the project database `<results>/project.db`.
    """
    log_path = Path(snakemake.log[0]) if len(snakemake.log) else None
    if log_path is not None:
        log_path.parent.mkdir(parents=True, exist_ok=True)
        log = open(log_path, "w", encoding="utf-8")  # noqa: SIM115 - lives as long as the script
        sys.stdout = _Tee(sys.__stdout__, log)
        sys.stderr = _Tee(sys.__stderr__, log)
    rule = getattr(snakemake, "rule", "script")
    wildcards = dict(getattr(snakemake, "wildcards", {}).items())
    start = time.perf_counter()
    print(f"[{rule}] start {time.strftime('%Y-%m-%d %H:%M:%S')} wildcards={wildcards}", flush=True)
    try:
        with _tracking(snakemake, tracked):
            main(snakemake)
    except DistilleryError as exc:
        print(f"ERROR: {exc}", file=sys.stderr, flush=True)
        sys.exit(1)
    except Exception as exc:
        traceback.print_exc()
        print(f"ERROR: {type(exc).__name__}: {exc}", file=sys.stderr, flush=True)
        sys.exit(1)
    elapsed = time.perf_counter() - start
    written = [str(p) for p in snakemake.output]
    if log_path is not None:
        provenance = log_path.with_suffix(".provenance.json")
        write_provenance(provenance, snakemake, elapsed)
        written.append(str(provenance))
    results = (getattr(snakemake, "config", {}) or {}).get("results", "results")
    try:
        write_through(Path(results) / DB_NAME, results, written)
    except DistilleryError as exc:
        print(f"ERROR: {exc}", file=sys.stderr, flush=True)
        sys.exit(1)
    print(f"[{rule}] done in {elapsed:.1f} s", flush=True)


def _tracking(snakemake: Any, tracked: bool) -> contextlib.AbstractContextManager[Any]:
    if not tracked:
        return contextlib.nullcontext()
    from distillery.tracking.job import tracked_script  # mlflow only for tracked jobs

    return tracked_script(snakemake)


def _plain(value: Any) -> Any:
    # typed settings are recorded as their values, anything else by its text
    return value.model_dump(mode="json") if isinstance(value, BaseModel) else str(value)


def write_provenance(path: Path, snakemake: Any, elapsed: float) -> None:
    """Record what produced a rule's outputs: params (the config used), files and versions."""
    params = dict(getattr(snakemake, "params", {}).items())
    write_json(path, {
        "rule": getattr(snakemake, "rule", "script"),
        "wildcards": dict(getattr(snakemake, "wildcards", {}).items()),
        "params": json.loads(json.dumps(params, default=_plain)),
        "input": [str(p) for p in snakemake.input],
        "output": [str(p) for p in snakemake.output],
        "host": platform.node(),
        "finished": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "seconds": round(elapsed, 3),
        "git_commit": git_commit(),
        "versions": package_versions(),
    })
