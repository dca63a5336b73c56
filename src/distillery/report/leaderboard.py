"""Every model of every dataset in one table, read from the metrics records.

Each `metrics.json` is a `distillery.metrics.record.MetricsFile`; each of its `ModelRecord`s
becomes one row: the record's own fields as fixed columns, each goal as `goal.<name>` (1
passed, 0 failed) and the track-specific figures as `metric.<dotted name>` (numbers only: per
class lists and confusion matrices are left out), named as in MLflow and the project database.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from distillery.errors import InputError
from distillery.io import atomic_path
from distillery.metrics.record import MetricsFile, read_metrics
from distillery.report.html import html_page
from distillery.sweeps import repeat_of
from distillery.tracking.flatten import numeric_leaves

# fixed columns first, then `goal.<name>` and `metric.<name>` columns in name order
COLUMNS = [
    "dataset", "track", "variant", "model", "role", "n_params", "size_bytes", "device",
    "throughput", "throughput_unit", "throughput_vs_teacher", "primary_metric", "primary_value",
    "primary_std", "n_seeds", "primary_unit", "direction", "goals_passed", "goals_total",
]
# what identifies a row; repeats of one key are the seeds of a sweep (see combine_repeats)
KEY = ["dataset", "track", "variant", "model"]
# a metrics.json path, or [dataset, track, path] as the leaderboard rule lists its inputs
Source = str | Path | Sequence[str | Path]


def record_rows(record: MetricsFile) -> list[dict[str, Any]]:
    """One leaderboard row per model of one metrics record (without `throughput_vs_teacher`,
    which needs the whole table)."""
    rows = []
    for m in record.models:
        row: dict[str, Any] = {
            "dataset": record.dataset, "track": record.track, "variant": record.variant,
            "model": m.model, "role": m.role, "n_params": m.n_params,
            "size_bytes": m.size_bytes, "device": m.device,
            "throughput": None if m.throughput is None else m.throughput.value,
            "throughput_unit": "" if m.throughput is None else m.throughput.unit,
            "primary_metric": m.primary.name, "primary_value": m.primary.value,
            "primary_unit": m.primary.unit, "direction": m.primary.direction,
            "goals_passed": sum(g.passed for g in m.goals), "goals_total": len(m.goals),
        }
        row.update({f"goal.{g.name}": float(g.passed) for g in m.goals})
        row.update({f"metric.{k}": v for k, v in numeric_leaves(m.metrics).items()})
        rows.append(row)
    return rows


def read_source(source: Source) -> MetricsFile:
    """The record of one source; with [dataset, track, path], a record of another dataset or
    track is a wiring mistake and a one-line InputError."""
    if isinstance(source, str | Path):
        return read_metrics(source)
    dataset, track, path = source
    record = read_metrics(path)
    for field, expected in (("dataset", dataset), ("track", track)):
        if getattr(record, field) != expected:
            raise InputError(path, field, repr(getattr(record, field)), repr(expected),
                             "list the dataset's own metrics.json for it")
    return record


def build_leaderboard(sources: Iterable[Source]) -> pd.DataFrame:
    """Metrics records -> one table, best first (by each row's `direction`) per dataset and
    variant."""
    rows, origins = [], []
    for source in sources:
        path = source if isinstance(source, str | Path) else source[-1]
        new = record_rows(read_source(source))
        rows += new
        origins += [str(path)] * len(new)
    if not rows:
        return pd.DataFrame(columns=COLUMNS)
    table = combine_repeats(pd.DataFrame(rows), origins)
    table["throughput_vs_teacher"] = _throughput_vs_teacher(table)
    extra = sorted(c for c in table.columns if c not in COLUMNS)
    goals = [c for c in extra if c.startswith("goal.")]
    table = table[COLUMNS + goals + [c for c in extra if c not in goals]]
    value = pd.to_numeric(table["primary_value"], errors="coerce")
    order = value.where(table["direction"] == "maximize", -value)
    table = table.assign(_order=order).sort_values(
        ["dataset", "variant", "_order"], ascending=[True, True, False], kind="stable",
        na_position="last")
    return table.drop(columns="_order").reset_index(drop=True)


def combine_repeats(table: pd.DataFrame, origins: Sequence[str]) -> pd.DataFrame:
    """One row per (dataset, track, variant, model).

    The seed repeats of a sweep's grid point (variants `<point>_seed<k>`, see
    `distillery.sweeps`) become one row of variant `<point>`: numbers are the mean over the
    seeds, `primary_std` the standard deviation of the primary metric (n - 1), `n_seeds` how
    many. Two records of one key and seed cannot be told apart: an error naming both files.
    """
    point_seed = [repeat_of(str(v)) for v in table["variant"]]
    table = table.assign(variant=[p for p, _ in point_seed],
                         seed=pd.array([s for _, s in point_seed], dtype="Int64"))
    repeated = table.duplicated([*KEY, "seed"], keep=False)
    if repeated.any():
        first = table[repeated].iloc[0]
        same = table[KEY].eq(first[KEY]).all(axis=1)
        files = list(dict.fromkeys(origins[i] for i in table.index[same]))  # source order
        raise InputError(files[0], "dataset/track/variant/model",
                         f"{'/'.join(map(str, first[KEY]))} also in {files[1:]}",
                         "one record per dataset, variant and model",
                         "give each run of a sweep its own variant")
    rows = []
    for _, group in table.groupby(KEY, sort=False, dropna=False):
        row = group.iloc[0].copy()
        seeds = int(group["seed"].notna().sum())
        row["n_seeds"] = seeds
        row["primary_std"] = float("nan")
        if len(group) > 1:
            for column in group.columns.difference([*KEY, "seed"]):
                values = pd.to_numeric(group[column], errors="coerce")
                if values.notna().any():
                    row[column] = values.mean()
            row["primary_std"] = pd.to_numeric(group["primary_value"], errors="coerce").std()
        rows.append(row)
    return pd.DataFrame(rows).drop(columns="seed").reset_index(drop=True).infer_objects()


def _throughput_vs_teacher(table: pd.DataFrame) -> pd.Series:
    """Throughput over the teacher's of the same dataset, track and variant."""
    throughput = pd.to_numeric(table["throughput"], errors="coerce")
    teacher = throughput.where(table["role"] == "teacher")
    keys = [table[c] for c in ("dataset", "track", "variant")]
    return throughput / teacher.groupby(keys).transform("first")


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
    """Per dataset and variant: the teacher against its best student (primary metric, size,
    speed-up, the student's goals)."""
    rows = []
    for (dataset, variant), group in table.groupby(["dataset", "variant"], sort=False):
        teachers = group[group["role"] == "teacher"]
        students = group[group["role"] == "student"]  # the table is sorted best-first
        if teachers.empty or students.empty:
            continue
        teacher, student = teachers.iloc[0], students.iloc[0]
        rows.append({
            "dataset": dataset,
            "variant": variant,
            "metric": teacher["primary_metric"],
            "teacher": teacher["model"],
            "teacher_value": teacher["primary_value"],
            "student": student["model"],
            "student_value": student["primary_value"],
            "student_over_teacher": _divide(student["primary_value"], teacher["primary_value"]),
            "params_ratio": _divide(teacher["n_params"], student["n_params"]),
            "speedup": student["throughput_vs_teacher"],
            "student_goals": f"{student['goals_passed']}/{student['goals_total']}",
        })
    return pd.DataFrame(rows, columns=[
        "dataset", "variant", "metric", "teacher", "teacher_value", "student", "student_value",
        "student_over_teacher", "params_ratio", "speedup", "student_goals"])


def _divide(a: Any, b: Any) -> float:
    a, b = pd.to_numeric(a, errors="coerce"), pd.to_numeric(b, errors="coerce")
    return float("nan") if pd.isna(a) or pd.isna(b) or b == 0 else float(a) / float(b)
