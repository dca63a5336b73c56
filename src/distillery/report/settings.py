"""Settings of the run-wide report: leaderboard, benchmarks table, analytics notebook."""

from __future__ import annotations

from distillery.base_settings import Settings


class ReportSettings(Settings):
    """The `report:` block."""

    compare_with: str | None = None
    """A config YAML to diff this run against in the notebook; null: the shipped config."""
    kernel: str = "distillery"
    """Jupyter kernel (registered by `make`); else the running Python."""
