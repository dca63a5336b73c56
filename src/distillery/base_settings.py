"""The base of every typed settings block: frozen, unknown keys rejected, defaults defined once.

Each block of `config/config.yaml` is one subclass, defined beside the code that uses it; the
top-level `distillery.settings.Config` composes them and the JSON schema is generated from it.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict


class Settings(BaseModel):
    """A validated, immutable settings block."""

    model_config = ConfigDict(frozen=True, extra="forbid", validate_default=True)

    def as_dict(self) -> dict[str, Any]:
        """Plain JSON-able values (for provenance, model files and tracking params)."""
        return self.model_dump(mode="json")
