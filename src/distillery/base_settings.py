"""The base of every typed settings block: frozen, unknown keys rejected, defaults defined once.

Each block of `config/config.yaml` is one subclass, defined beside the code that uses it; the
top-level `distillery.settings.Config` composes them and the JSON schema is generated from it.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, TypeAdapter, ValidationError

from distillery.errors import ConfigError


class Settings(BaseModel):
    """A validated, immutable settings block."""

    model_config = ConfigDict(frozen=True, extra="forbid", validate_default=True)

    def as_dict(self) -> dict[str, Any]:
        """Plain JSON-able values (for provenance, model files and tracking params)."""
        return self.model_dump(mode="json")


def validated(schema: type[BaseModel] | TypeAdapter, value: Any, where: str) -> Any:
    """`value` (a mapping) as settings, or a one-line ConfigError naming the bad key."""
    try:
        if isinstance(schema, TypeAdapter):
            return schema.validate_python(value)
        return schema.model_validate(value)
    except ValidationError as exc:
        first = exc.errors()[0]
        raise ConfigError(f"{where}: {'.'.join(map(str, first['loc']))}: "
                          f"{first['msg']}") from None
