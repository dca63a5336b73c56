"""Nested settings and metrics records -> flat dotted names (MLflow params/metrics, database).

MLflow metric `<model>.<metric>` and the project database row (model, metric) come from the
same `model_metrics`, so a figure has one name everywhere.
"""

from __future__ import annotations

import json
import posixpath
import re
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel

from distillery.metrics.record import MetricsFile, ModelRecord

# MLflow's limits (mlflow.utils.validation), repeated here so that a disabled tracker never
# imports mlflow
MAX_KEY_LENGTH = 250
MAX_PARAM_VALUE_LENGTH = 6000
MAX_TAG_VALUE_LENGTH = 8000
_BAD_KEY_CHARS = re.compile(r"[^/\w.\- :]")


def as_mapping(obj: Any) -> Mapping[str, Any]:
    """A settings object (pydantic model, mapping or None) as a plain mapping."""
    if obj is None:
        return {}
    if isinstance(obj, BaseModel):
        return obj.model_dump(mode="json")
    if isinstance(obj, Mapping):
        return obj
    raise TypeError(f"expected a mapping or a pydantic model, got {type(obj).__name__}")


def flatten(obj: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """{"a": {"b": 1}} -> {"a.b": 1}; leaves (lists included) are kept as they are."""
    flat: dict[str, Any] = {}
    for key, value in obj.items():
        name = f"{prefix}{key}"
        if isinstance(value, BaseModel):
            value = value.model_dump(mode="json")
        if isinstance(value, Mapping) and value:
            flat.update(flatten(value, f"{name}."))
        else:
            flat[name] = value
    return flat


def clean_key(key: str) -> str:
    """A name MLflow accepts: allowed characters, no path tricks, at most 250 characters."""
    key = _BAD_KEY_CHARS.sub("_", str(key)).strip("/") or "_"
    if posixpath.normpath(key) != key or key.startswith(".."):
        key = key.replace("/", "_")
        key = "_" + key if key.startswith(".") else key
    return key[:MAX_KEY_LENGTH]


def clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def param_values(params: Any) -> dict[str, str]:
    """Settings -> {dotted key: text}; strings as they are, everything else as JSON."""
    out: dict[str, str] = {}
    for key, value in flatten(as_mapping(params)).items():
        text = value if isinstance(value, str) else json.dumps(value, default=str)
        out.setdefault(clean_key(key), clip(text, MAX_PARAM_VALUE_LENGTH))
    return out


def number(value: Any) -> float | None:
    """A metric value as float; None for missing or non-numeric values."""
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, int | float):
        return float(value)
    if hasattr(value, "item") and getattr(value, "ndim", 1) == 0:  # numpy scalar
        return number(value.item())
    return None


def numeric_leaves(obj: Mapping[str, Any], prefix: str = "") -> dict[str, float | None]:
    """Numeric leaves (bools as 0/1) of a nested mapping; null leaves are kept as None.

    Strings and lists (per-class arrays, confusion matrices) have no single value: left out.
    """
    out: dict[str, float | None] = {}
    for key, value in flatten(obj, prefix).items():
        if value is None:
            out[key] = None
        elif (v := number(value)) is not None:
            out[key] = v
    return out


def model_metrics(model: ModelRecord) -> dict[str, float | None]:
    """Every figure of one model: its track-specific metrics plus the record's own fields."""
    out = numeric_leaves(model.metrics)
    out["n_params"] = number(model.n_params)
    out["size_bytes"] = number(model.size_bytes)
    if model.throughput is not None:
        out["throughput"] = number(model.throughput.value)
    out.setdefault(model.primary.name, number(model.primary.value))
    return out


def record_metrics(record: MetricsFile) -> dict[str, float]:
    """A metrics file as MLflow metrics: `<model>.<metric>`, `<model>.goal.<name>` (1 passed,
    0 failed) and `summary.<key>`; missing values are left out."""
    out: dict[str, float | None] = {}
    for model in record.models:
        out.update({f"{model.model}.{k}": v for k, v in model_metrics(model).items()})
        out.update({f"{model.model}.goal.{g.name}": float(g.passed) for g in model.goals})
    out.update(numeric_leaves(record.summary, "summary."))
    return {clean_key(k): v for k, v in out.items() if v is not None}
