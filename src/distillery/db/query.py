"""Read-only SQL on the project database, printed as a text table, CSV or JSON."""

from __future__ import annotations

import csv
import io
import json
import math
import sqlite3
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from distillery.errors import DistilleryError

if TYPE_CHECKING:
    import pandas as pd

Result = tuple[list[str], list[tuple[Any, ...]]]


def connect_readonly(db_path: str | Path, timeout: float = 60.0) -> sqlite3.Connection:
    """A connection that cannot change the database (opened read-only, query_only); while a
    job commits its rows, it waits up to `timeout` s like the writers do."""
    path = Path(db_path)
    if not path.is_file():
        raise DistilleryError(f"{path}: no project database; fix: python -m distillery.db "
                              f"rebuild --results {path.parent}")
    conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=timeout)
    conn.execute("PRAGMA query_only = ON")
    return conn


def query(db_path: str | Path, sql: str, params: Sequence[Any] = ()) -> Result:
    """Column names and rows of one SQL statement; an SQL error is a one-line error."""
    conn = connect_readonly(db_path)
    try:
        cursor = conn.execute(sql, tuple(params))
        rows = cursor.fetchall()
        columns = [d[0] for d in cursor.description or ()]
    except sqlite3.Error as exc:
        raise DistilleryError(f"{db_path}: query failed: {exc}") from None
    finally:
        conn.close()
    return columns, rows


def query_frame(db_path: str | Path, sql: str, params: Sequence[Any] = ()) -> pd.DataFrame:
    """`query` as a DataFrame (the leaderboard, the notebook)."""
    import pandas as pd  # here: the command line answers without importing pandas

    columns, rows = query(db_path, sql, params)
    return pd.DataFrame.from_records(rows, columns=columns)


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


def as_table(result: Result) -> str:
    """Aligned columns, numbers to six significant digits, NULL as blank."""
    columns, rows = result
    cells = [columns, *[[_cell(v) for v in row] for row in rows]]
    widths = [max(len(r[i]) for r in cells) for i in range(len(columns))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip()
             for r in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines) + "\n"


def as_csv(result: Result) -> str:
    columns, rows = result
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(columns)
    writer.writerows(["" if v is None else v for v in row] for row in rows)
    return out.getvalue()


def as_json(result: Result) -> str:
    """A list of objects; non-finite numbers as null (strict JSON)."""
    columns, rows = result

    def clean(v: Any) -> Any:
        return None if isinstance(v, float) and not math.isfinite(v) else v

    records = [{c: clean(v) for c, v in zip(columns, row, strict=True)} for row in rows]
    return json.dumps(records, indent=2, ensure_ascii=False, default=str) + "\n"
