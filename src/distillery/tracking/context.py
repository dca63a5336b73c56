"""What a run came from: the code's git commit and the workflow invocation's id."""

from __future__ import annotations

import functools
import os
import subprocess
from pathlib import Path

UNKNOWN = "unknown"
# set once by the Snakefile (or by hand) so every job of one `snakemake` call shares it
RUN_ID_ENV = "DISTILLERY_RUN_ID"


@functools.lru_cache(maxsize=1)
def git_commit() -> str:
    """Commit of the checkout the package runs from (not of the working directory, which
    for a workflow is wherever `snakemake -d` pointed); "unknown" outside git."""
    here = Path(__file__).resolve().parent
    try:
        result = subprocess.run(["git", "-C", str(here), "rev-parse", "HEAD"],
                                capture_output=True, text=True, timeout=5, check=False)
    except (OSError, subprocess.SubprocessError):
        return UNKNOWN
    commit = result.stdout.strip()
    return commit if result.returncode == 0 and commit else UNKNOWN


def workflow_run_id(explicit: str | None = None) -> str | None:
    """The id of the workflow invocation: given, or from $DISTILLERY_RUN_ID."""
    return explicit or os.environ.get(RUN_ID_ENV) or None
