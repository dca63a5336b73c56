"""Every model's metrics across datasets in one table: one adapter per track's metrics.json.

A track's metrics.json holds one entry per model (teacher, students, baselines; for
coarse-grained models one per evaluation mode), either under a `models` (or `modes`) key or
at the top level. Each entry is flattened to dotted metric names; parameter count, size,
throughput and device are picked out by their known names so every track lands in the same
columns.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from distillery.errors import InputError
from distillery.io import atomic_path, read_json
from distillery.report.html import html_page

# fixed columns first; every flattened metric follows as `metric.<name>`
COLUMNS = [
    "dataset", "track", "model", "role", "params", "size_bytes", "device",
    "throughput", "throughput_unit", "speedup_vs_teacher", "primary_metric", "primary_value",
    "higher_is_better",
]
_PARAMS_KEYS = ("params", "n_params", "n_parameters", "num_params", "parameters", "param_count")
_SIZE_KEYS = ("size_bytes", "model_bytes", "checkpoint_bytes", "bytes")
_DEVICE_KEYS = ("device",)
# per-item throughput names, most specific first; the first present one is the headline
_THROUGHPUT_KEYS = (
    ("frames_per_s", "frames/s"), ("throughput_frames_per_s", "frames/s"),
    ("windows_per_s", "windows/s"), ("throughput_windows_per_s", "windows/s"),
    ("atoms_per_s", "atoms/s"), ("samples_per_s", "samples/s"), ("throughput", "items/s"),
)
_LATENCY_KEYS = (("latency_batched_ms", "windows/s"), ("latency_ms", "windows/s"))


@dataclass(frozen=True)
class TrackAdapter:
    """How to read one track's metrics.json into leaderboard rows."""

    track: str
    container_keys: tuple[str, ...]  # keys that hold the per-model entries
    roles: tuple[tuple[str, str], ...]  # (substring of the model name, role), first match wins
    primary: tuple[str, ...]  # metric names for the headline column, first found wins
    higher_is_better: bool

    def role(self, model: str, entry: Mapping[str, Any]) -> str:
        if isinstance(entry.get("role"), str):
            return entry["role"]
        name = model.lower().replace("-", "_")
        for key, role in self.roles:
            if key in name:
                return role
        return "model"


_DISTILLATION_ROLES = (
    ("teacher", "teacher"), ("baseline", "baseline"), ("scratch", "baseline"),
    ("no_kd", "baseline"), ("nokd", "baseline"), ("without", "baseline"),
    ("student", "student"), ("kd", "student"), ("mlp", "student"),
)

ADAPTERS: dict[str, TrackAdapter] = {
    "forcefield": TrackAdapter(
        track="forcefield",
        container_keys=("models",),
        roles=_DISTILLATION_ROLES,
        primary=("force_mae", "forces_mae", "forces.mae", "force.mae", "f_mae"),
        higher_is_better=False,
    ),
    "coarse_grained": TrackAdapter(
        track="coarse_grained",
        container_keys=("modes", "models"),
        roles=(("prior_only", "baseline"), ("prior", "baseline"), ("ml_only", "ablation"),
               ("full", "model")),
        primary=("force_mae", "forces_mae", "forces.mae", "force.mae", "f_mae"),
        higher_is_better=False,
    ),
    "classifier": TrackAdapter(
        track="classifier",
        container_keys=("models",),
        roles=_DISTILLATION_ROLES,
        primary=("macro_f1", "f1_macro", "f1.macro"),
        higher_is_better=True,
    ),
}


def flatten(entry: Mapping[str, Any], prefix: str = "") -> dict[str, float | str]:
    """Nested dict -> {dotted.name: scalar}; lists (e.g. confusion matrices) are left out."""
    flat: dict[str, float | str] = {}
    for key, value in entry.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            flat.update(flatten(value, f"{name}."))
        elif isinstance(value, int | float):  # bool included: flags become 0/1
            flat[name] = float(value)
        elif isinstance(value, str):
            flat[name] = value
    return flat


def _pick(flat: Mapping[str, Any], names: Iterable[str]) -> tuple[str, Any] | None:
    """First of `names` found as a full key or as the last dotted part(s) of a key."""
    for name in names:
        for key, value in flat.items():
            if key == name or key.endswith(f".{name}"):
                return key, value
    return None


def _model_entries(adapter: TrackAdapter, metrics: Mapping[str, Any]) -> dict[str, Mapping]:
    for key in adapter.container_keys:
        if isinstance(metrics.get(key), Mapping):
            return {k: v for k, v in metrics[key].items() if isinstance(v, Mapping)}
    # no container: top-level entries named like models (teacher, student_gat, full, ...)
    return {
        k: v for k, v in metrics.items()
        if isinstance(v, Mapping) and adapter.role(k, v) != "model"
    }


def _throughput(flat: Mapping[str, Any]) -> tuple[float, str]:
    found = None
    for name, unit in _THROUGHPUT_KEYS:
        if (hit := _pick(flat, [name])) is not None and isinstance(hit[1], float):
            found = (hit[1], unit)
            break
    if found is None:
        for name, unit in _LATENCY_KEYS:
            hit = _pick(flat, [name])
            if hit is not None and isinstance(hit[1], float) and hit[1] > 0:
                found = (1000.0 / hit[1], unit)
                break
    return found if found is not None else (math.nan, "")


def _device_name(value: Any) -> str:
    """`cpu`, `cuda:0`, ...: a plain name, or the `device` of a described device."""
    if isinstance(value, Mapping):
        return str(value.get("device", ""))
    return "" if value is None else str(value)


def rows_for(dataset: str, track: str, metrics: Mapping[str, Any],
             source: str | Path = "metrics.json") -> list[dict[str, Any]]:
    """Leaderboard rows of one dataset's metrics.json; InputError when no model is found."""
    if track not in ADAPTERS:
        raise InputError(source, "track", repr(track), f"one of {sorted(ADAPTERS)}")
    adapter = ADAPTERS[track]
    entries = _model_entries(adapter, metrics)
    if not entries:
        raise InputError(
            source, "models", f"top-level keys {sorted(metrics)}",
            f"per-model entries under one of {list(adapter.container_keys)} or named like "
            "teacher/student/baseline",
        )
    shared_device = _device_name(metrics.get("device"))
    rows = []
    for model, entry in entries.items():
        flat = flatten(entry)
        params = _pick(flat, _PARAMS_KEYS)
        size = _pick(flat, _SIZE_KEYS)
        device = _pick(flat, _DEVICE_KEYS)
        primary = _pick(flat, adapter.primary)
        throughput, unit = _throughput(flat)
        row = {
            "dataset": dataset,
            "track": track,
            "model": model,
            "role": adapter.role(model, entry),
            "params": params[1] if params else math.nan,
            "size_bytes": size[1] if size else math.nan,
            "device": _device_name(device[1]) if device else shared_device,
            "throughput": throughput,
            "throughput_unit": unit,
            "primary_metric": primary[0] if primary else "",
            "primary_value": primary[1] if primary else math.nan,
            "higher_is_better": adapter.higher_is_better,
        }
        row.update({f"metric.{k}": v for k, v in flat.items() if isinstance(v, float)})
        rows.append(row)
    return rows


def build_leaderboard(sources: Iterable[tuple[str, str, str | Path]]) -> pd.DataFrame:
    """(dataset, track, metrics.json path) triples -> one table, sorted best-first per dataset."""
    rows: list[dict[str, Any]] = []
    for dataset, track, path in sources:
        metrics = read_json(path)
        if not isinstance(metrics, Mapping):
            raise InputError(path, "<root>", type(metrics).__name__, "a JSON object")
        rows += rows_for(dataset, track, metrics, path)
    table = pd.DataFrame(rows)
    if table.empty:
        return pd.DataFrame(columns=COLUMNS)
    table["speedup_vs_teacher"] = _speedup_vs_teacher(table)
    metric_columns = sorted(c for c in table.columns if c not in COLUMNS)
    table = table[COLUMNS + metric_columns]
    # best first inside each dataset: flip the sign where lower is better
    order = table["primary_value"].where(table["higher_is_better"], -table["primary_value"])
    table = table.assign(_order=order).sort_values(
        ["dataset", "_order"], ascending=[True, False], kind="stable", na_position="last")
    return table.drop(columns="_order").reset_index(drop=True)


def _speedup_vs_teacher(table: pd.DataFrame) -> pd.Series:
    teachers = table[table["role"] == "teacher"].groupby("dataset")["throughput"].first()
    return table["throughput"] / table["dataset"].map(teachers)


def write_leaderboard(table: pd.DataFrame, parquet: str | Path, csv: str | Path,
                      html: str | Path) -> None:
    """The table as Parquet (for code), CSV (for spreadsheets) and HTML (for the report)."""
    with atomic_path(parquet) as tmp:
        table.to_parquet(tmp, index=False)
    with atomic_path(csv) as tmp:
        table.to_csv(tmp, index=False)
    with atomic_path(html) as tmp:
        tmp.write_text(html_page("Leaderboard", table[COLUMNS]), encoding="utf-8")


def teacher_vs_student(table: pd.DataFrame) -> pd.DataFrame:
    """Per dataset: the teacher against its best student (primary metric, size, speed-up)."""
    rows = []
    for dataset, group in table.groupby("dataset", sort=False):
        teachers = group[group["role"] == "teacher"]
        students = group[group["role"] == "student"]  # the table is sorted best-first
        if teachers.empty or students.empty:
            continue
        teacher, student = teachers.iloc[0], students.iloc[0]
        rows.append({
            "dataset": dataset,
            "metric": teacher["primary_metric"],
            "teacher": teacher["model"],
            "teacher_value": teacher["primary_value"],
            "student": student["model"],
            "student_value": student["primary_value"],
            "student_over_teacher": student["primary_value"] / teacher["primary_value"],
            "params_ratio": teacher["params"] / student["params"],
            "speedup": student["speedup_vs_teacher"],
        })
    return pd.DataFrame(rows, columns=[
        "dataset", "metric", "teacher", "teacher_value", "student", "student_value",
        "student_over_teacher", "params_ratio", "speedup"])
