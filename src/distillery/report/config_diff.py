"""What changed between the configurations of two runs, as a flat table of dotted keys
(`python -m distillery.settings diff A B` prints it for two datasets or sweep variants)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd

_MISSING = object()


def _flat(obj: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(obj, Mapping):
        flat: dict[str, Any] = {}
        for key, value in obj.items():
            flat.update(_flat(value, f"{prefix}{key}."))
        return flat
    return {prefix.rstrip("."): obj}


def _show(flat: Mapping[str, Any], key: str) -> str:
    return repr(flat[key]) if key in flat else "(absent)"


def config_diff(before: Mapping[str, Any], after: Mapping[str, Any]) -> pd.DataFrame:
    """Rows (key, before, after) for every leaf that differs, added or removed."""
    a, b = _flat(before), _flat(after)
    rows = [
        {"key": key, "before": _show(a, key), "after": _show(b, key)}
        for key in sorted(a.keys() | b.keys())
        if a.get(key, _MISSING) != b.get(key, _MISSING)
    ]
    return pd.DataFrame(rows, columns=["key", "before", "after"])
