"""Generators of the embedded default data (deterministic from a seed, nothing downloaded)."""

from __future__ import annotations

from pathlib import Path

# the repository root when running from a checkout (src/distillery/data/generate/__init__.py)
REPOSITORY = Path(__file__).resolve().parents[4]


def shipped_file(path: str | Path) -> Path:
    """`path` as given when it exists (relative to the working directory), else inside the
    repository, where shipped inputs such as data/topologies/*.pdb live."""
    given = Path(path)
    if given.exists() or given.is_absolute():
        return given
    return REPOSITORY / given
