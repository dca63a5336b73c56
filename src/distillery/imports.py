"""Objects named by import path in the configuration (`package.module:Name`)."""

from __future__ import annotations

import importlib
from typing import Any

from distillery.errors import ConfigError


def import_object(path: str, where: str) -> Any:
    """`package.module:Name` -> the object (e.g. an ASE calculator class); `where` names the
    setting in the error."""
    module, _, attribute = path.partition(":")
    try:
        return getattr(importlib.import_module(module), attribute)
    except (ImportError, AttributeError, ValueError) as error:
        raise ConfigError(f"{where}: found {path!r} ({error}), expected an importable "
                          "'package.module:Name', e.g. 'ase.calculators.emt:EMT'") from error
