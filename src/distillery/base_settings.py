"""The base of every typed settings block: frozen, unknown keys rejected, defaults defined once.

Each block of `config/config.yaml` is one subclass, defined beside the code that uses it; the
top-level `distillery.settings.Config` composes them and the JSON schema is generated from it.
Every field documents itself with a docstring right below it (meaning and units), which becomes
its description in the schema.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, TypeAdapter, ValidationError

from distillery.errors import ConfigError, InputError
from distillery.io import read_json

M = TypeVar("M", bound=BaseModel)


class Settings(BaseModel):
    """A validated, immutable settings block."""

    model_config = ConfigDict(frozen=True, extra="forbid", validate_default=True,
                              use_attribute_docstrings=True)

    def as_dict(self) -> dict[str, Any]:
        """Plain JSON-able values (for provenance, model files and tracking params)."""
        return self.model_dump(mode="json")


def fingerprint(values: Any) -> str:
    """A short hash of settings and plain values, stable across runs and processes.

    Snakemake's params trigger records plain values only and skips settings objects, so rules
    add this hash as a plain param: a changed setting then reruns the jobs that read it.
    """
    text = json.dumps(values, sort_keys=True, default=_plain)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _plain(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    if isinstance(value, (set, frozenset)):
        return sorted(value)
    raise TypeError(f"cannot fingerprint {type(value).__name__}")


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


def read_validated(path: str | Path, model: type[M], expected: str,
                   fix: str | None = None) -> M:
    """A JSON file read into `model`; a file of another shape is a one-line InputError naming
    the first field that does not fit."""
    try:
        return model.model_validate(read_json(path))
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "(top level)"
        raise InputError(path, where, first["msg"], expected, fix) from None
    except ValueError as exc:
        raise InputError(path, "(file)", f"invalid JSON ({exc})", expected, fix) from None
