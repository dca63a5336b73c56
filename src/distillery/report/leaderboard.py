"""Every model of every dataset in one table, read from the project database.

The database holds each metrics record (`distillery.metrics.record.MetricsFile`) as rows
(`distillery.db.sources.metrics_rows`); each row of its `models` table becomes one leaderboard
row: the record's own fields as fixed columns, each goal as `goal.<name>` (1 passed, 0 failed)
and each figure of `metric_values` as `metric.<dotted name>` (numbers only: per class lists
and confusion matrices are left out), named as in MLflow and the database, the primary
metric among them. Figures that are fixed columns already (`n_params`, `size_bytes`,
`throughput`) are not repeated.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from distillery.db import query_frame
from distillery.errors import InputError
from distillery.io import atomic_path
from distillery.report.html import html_page
from distillery.sweeps import repeat_of

# fixed columns first, then `goal.<name>` and `metric.<name>` columns in name order
COLUMNS = [
    "dataset", "track", "variant", "model", "role", "n_params", "size_bytes", "device",
    "throughput", "throughput_unit", "throughput_vs_teacher", "primary_metric", "primary_value",
    "primary_std", "n_seeds", "primary_unit", "direction", "goals_passed", "goals_total",
]
# what identifies a row; repeats of one key are the seeds of a sweep (see combine_repeats)
KEY = ["dataset", "track", "variant", "model"]
# the columns that are stored in the database's `models` table (the rest are computed)
_STORED = [c for c in COLUMNS if c not in ("throughput_vs_teacher", "primary_std", "n_seeds")]
_ROW = ["dataset", "variant", "model"]  # a model's key in every table of the database


def build_leaderboard(db_path: str | Path, sources: Sequence[str] | None = None) -> pd.DataFrame:
    """The models of the records `sources` (paths relative to results/, as the database's
    `models.source` names them; None: every record in the database) in one table, best first
    (by each row's `direction`) per dataset, variant and primary metric.

    A source without rows (never loaded, or replaced by another record of its dataset and
    variant) is an InputError: the table would silently miss its models.
    """
    # one JSON parameter, not one per source: no limit on the number of records
    where = "" if sources is None else "WHERE m.source IN (SELECT value FROM json_each(?))"
    params = () if sources is None else (json.dumps(list(sources)),)
    # rowid: a record's models in the order the record lists them (they are inserted so)
    models = query_frame(db_path, f"SELECT {', '.join(f'm.{c}' for c in _STORED)}, m.source "
                         f"FROM models AS m {where} ORDER BY m.dataset, m.variant, m.rowid",
                         params)
    found = set(models["source"])
    missing = [s for s in sources or () if s not in found]
    if missing:
        raise InputError(db_path, "models.source", f"no rows of {missing}",
                         "the rows of every record the leaderboard lists",
                         "load them: rerun the db_sync rule, or python -m distillery.db rebuild")
    if models.empty:
        return pd.DataFrame(columns=COLUMNS)
    joined = f"JOIN models AS m USING ({', '.join(_ROW)}) {where}"
    goals = query_frame(db_path, "SELECT dataset, variant, model, 'goal.' || goal AS name, "
                        f"CAST(passed AS REAL) AS value FROM goals {joined}", params)
    fixed = ", ".join(f"'{c}'" for c in COLUMNS)
    figures = query_frame(db_path, "SELECT dataset, variant, model, 'metric.' || metric AS "
                          f"name, value FROM metric_values {joined} "
                          f"{'AND' if where else 'WHERE'} metric NOT IN ({fixed})", params)
    wide = pd.concat([goals, figures]).pivot(index=_ROW, columns="name", values="value")
    table = models.drop(columns="source").merge(wide.reset_index(), on=_ROW, how="left")
    table["throughput_unit"] = table["throughput_unit"].fillna("")
    table = combine_repeats(table)
    table["throughput_vs_teacher"] = _throughput_vs_teacher(table)
    extra = sorted(c for c in table.columns if c not in COLUMNS)
    goal_columns = [c for c in extra if c.startswith("goal.")]
    table = table[COLUMNS + goal_columns + [c for c in extra if c not in goal_columns]]
    value = pd.to_numeric(table["primary_value"], errors="coerce")
    order = value.where(table["direction"] == "maximize", -value)
    # a dataset's records of another headline (the CAN payload detector beside the
    # classifiers) rank among themselves
    table = table.assign(_order=order).sort_values(
        ["dataset", "variant", "primary_metric", "_order"], ascending=[True, True, True, False],
        kind="stable", na_position="last")
    return table.drop(columns="_order").reset_index(drop=True)


def combine_repeats(table: pd.DataFrame) -> pd.DataFrame:
    """One row per (dataset, track, variant, model).

    The seed repeats of a sweep's grid point (variants `<point>_seed<k>`, see
    `distillery.sweeps`) become one row of variant `<point>`: numbers are the mean over the
    seeds, `primary_std` the standard deviation of the primary metric (n - 1) and
    `metric.<name>_std` that of each figure (a student's `force_mae_ratio_vs_baseline`
    among them), `n_seeds` how many. (The database holds one record per dataset and variant,
    so a seed cannot repeat.)
    """
    point_seed = [repeat_of(str(v)) for v in table["variant"]]
    table = table.assign(variant=[p for p, _ in point_seed],
                         seed=pd.array([s for _, s in point_seed], dtype="Int64"))
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
                    if column.startswith("metric."):
                        row[f"{column}_std"] = values.std()
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
