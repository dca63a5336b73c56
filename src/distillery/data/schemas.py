"""pandera schemas: the last gate before any table is written.

Molecular frames are validated through a per-frame view (list lengths, value ranges and
finiteness computed with Arrow kernels) so that validation stays vectorised for large sets.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pandera.errors
import pandera.pandas as pa
import pyarrow as arrow
import pyarrow.compute as pc

from distillery.errors import InputError

MAX_ELEMENT = 118
# e: no atom in a molecule carries more; larger values mean wrong units or garbage
MAX_ATOM_CHARGE = 10.0
# electrostatic list columns (distillery.data.electrostatics) and their length per frame,
# as a multiple of the atom count (per atom) or a fixed count (per frame)
ELECTROSTATIC_LISTS = {"mono": ("n_atoms", 1), "atomic_dipoles": ("n_atoms", 3),
                       "dipole": (None, 3), "quadrupole": (None, 9)}
ELECTROSTATIC_SCALARS = ("dipole_norm", "total_charge")
FINITE_LISTS = ("positions", "forces", "stress", "virial", *ELECTROSTATIC_LISTS, "esp",
                "esp_grid")
CAN_BYTES = [f"b{i}" for i in range(8)]

FRAME_VIEW_SCHEMA = pa.DataFrameSchema(
    {
        "frame": pa.Column("int64", pa.Check.ge(0), unique=True),
        "n_atoms": pa.Column("int64", pa.Check.gt(0)),
        "numbers_len": pa.Column("int64"),
        "numbers_min": pa.Column("int64", pa.Check.ge(1), nullable=True),
        "numbers_max": pa.Column("int64", pa.Check.le(MAX_ELEMENT), nullable=True),
        "positions_len": pa.Column("int64"),
        "positions_finite": pa.Column(bool, pa.Check.eq(True)),
        # null energies are allowed (unlabelled frames); NaN and inf are not
        "energy_finite": pa.Column(bool, pa.Check.eq(True), required=False),
        "forces_len": pa.Column("int64", nullable=True, required=False),
        "forces_finite": pa.Column(bool, pa.Check.eq(True), required=False),
        "cell_len": pa.Column("int64", pa.Check.eq(9), required=False),
        "stress_len": pa.Column("int64", pa.Check.eq(9), required=False),
        "stress_finite": pa.Column(bool, pa.Check.eq(True), required=False),
        "virial_len": pa.Column("int64", pa.Check.eq(9), required=False),
        "virial_finite": pa.Column(bool, pa.Check.eq(True), required=False),
        **{f"{name}_finite": pa.Column(bool, pa.Check.eq(True), required=False)
           for name in (*ELECTROSTATIC_LISTS, *ELECTROSTATIC_SCALARS, "esp", "esp_grid")},
        **{f"{name}_len": pa.Column("int64", pa.Check.eq(width), required=False)
           for name, (per, width) in ELECTROSTATIC_LISTS.items() if per is None},
        "mono_max_abs": pa.Column("float64", pa.Check.le(MAX_ATOM_CHARGE), required=False),
    },
    checks=[
        pa.Check(lambda df: df["numbers_len"] == df["n_atoms"], name="numbers has n_atoms entries"),
        pa.Check(
            lambda df: df["positions_len"] == 3 * df["n_atoms"],
            name="positions has n_atoms*3 entries",
        ),
        pa.Check(
            lambda df: df["forces_len"].isna() | (df["forces_len"] == 3 * df["n_atoms"])
            if "forces_len" in df else pd.Series(True, index=df.index),
            name="forces has n_atoms*3 entries",
        ),
        *[pa.Check(lambda df, n=name, w=width: df[f"{n}_len"] == w * df["n_atoms"]
                   if f"{n}_len" in df else pd.Series(True, index=df.index),
                   name=f"{name} has n_atoms*{width} entries")
          for name, (per, width) in ELECTROSTATIC_LISTS.items() if per == "n_atoms"],
        pa.Check(
            lambda df: df["esp_grid_len"] == 3 * df["esp_len"]
            if "esp_grid_len" in df else pd.Series(True, index=df.index),
            name="esp_grid has 3 coordinates per ESP value",
        ),
    ],
    strict=False,
)

CAN_SCHEMA = pa.DataFrameSchema(
    {
        "frame": pa.Column("int64", pa.Check.ge(0), unique=True),
        "capture": pa.Column(str),
        "vehicle": pa.Column(str),
        "timestamp": pa.Column("float64", [pa.Check(np.isfinite), pa.Check.ge(0)]),
        "can_id": pa.Column("int32", pa.Check.in_range(0, 0x1FFFFFFF)),
        "dlc": pa.Column("int8", pa.Check.in_range(0, 8)),
        **{b: pa.Column("uint8") for b in CAN_BYTES},
        "label": pa.Column("category"),
    },
    checks=[
        pa.Check(
            lambda df: df.groupby("capture", sort=False)["timestamp"].diff().fillna(0) >= 0,
            name="timestamps non-decreasing within a capture",
        )
    ],
    strict=True,
    ordered=True,
)


def _row_stats(col: arrow.ChunkedArray, prefix: str, view: dict[str, np.ndarray]) -> None:
    lengths = pc.list_value_length(col).to_numpy(zero_copy_only=False)
    view[f"{prefix}_len"] = np.nan_to_num(lengths, nan=-1).astype(np.int64)
    if prefix in FINITE_LISTS:
        flat = pc.list_flatten(col).to_numpy(zero_copy_only=False)
        bad = ~np.isfinite(flat)
        rows = np.repeat(np.arange(len(lengths)), np.nan_to_num(lengths, nan=0).astype(np.int64))
        finite = np.ones(len(lengths), dtype=bool)
        finite[rows[bad]] = False
        view[f"{prefix}_finite"] = finite


def frame_view(table: arrow.Table) -> pd.DataFrame:
    """Per-frame summary the frame schema checks (one row per frame)."""
    view: dict[str, np.ndarray] = {
        "frame": table.column("frame").to_numpy().astype(np.int64),
        "n_atoms": table.column("n_atoms").to_numpy().astype(np.int64),
    }
    numbers = table.column("numbers")
    _row_stats(numbers, "numbers", view)
    rows = _per_row(numbers)
    view["numbers_min"] = np.array([r.min() if r.size else 1 for r in rows], dtype=np.int64)
    view["numbers_max"] = np.array([r.max() if r.size else 1 for r in rows], dtype=np.int64)
    _row_stats(table.column("positions"), "positions", view)
    if "energy" in table.column_names:
        finite = pc.fill_null(pc.is_finite(table.column("energy")), True)
        view["energy_finite"] = finite.to_numpy(zero_copy_only=False).astype(bool)
    if "forces" in table.column_names:
        _row_stats(table.column("forces"), "forces", view)
    for name in ("cell", "stress", "virial", *ELECTROSTATIC_LISTS, "esp", "esp_grid"):
        if name in table.column_names:
            _row_stats(table.column(name), name, view)
    for name in ELECTROSTATIC_SCALARS:
        if name in table.column_names:
            finite = pc.fill_null(pc.is_finite(table.column(name)), False)
            view[f"{name}_finite"] = finite.to_numpy(zero_copy_only=False).astype(bool)
    if "mono" in table.column_names:
        view["mono_max_abs"] = np.array([np.abs(r).max() if r.size else 0.0
                                         for r in _per_row(table.column("mono"))])
    return pd.DataFrame(view)


def _per_row(col: arrow.ChunkedArray) -> list[np.ndarray]:
    arr = col.combine_chunks()
    flat = arr.flatten().to_numpy(zero_copy_only=False)
    offsets = arr.offsets.to_numpy()
    return [flat[offsets[i] : offsets[i + 1]] for i in range(len(arr))]


def _raise_first(exc: pandera.errors.SchemaErrors, source: str) -> None:
    cases = exc.failure_cases
    first = cases.iloc[0]
    same = cases[(cases["check"] == first["check"]) & (cases["column"] == first["column"])]
    rows = same["index"].dropna().astype(int).unique()
    if first["schema_context"] == "Column":
        field, sample = str(first["column"]), f", e.g. {first['failure_case']!r}"
    else:
        field, sample = "table", ""
    where = f" at rows {rows[:5].tolist()}" if len(rows) else ""
    found = f"{max(len(rows), 1)} failing row(s){where}{sample}"
    raise InputError(source, field, found, f"to satisfy check {first['check']!r}") from None


def validate_frames(table: arrow.Table, source: str) -> None:
    """Validate a frames table; raise InputError naming the first failing field."""
    try:
        FRAME_VIEW_SCHEMA.validate(frame_view(table), lazy=True)
    except pandera.errors.SchemaErrors as exc:
        _raise_first(exc, source)


def validate_can(frame: pd.DataFrame, source: str) -> pd.DataFrame:
    """Validate an ingested CAN table; raise InputError naming the first failing field."""
    try:
        return CAN_SCHEMA.validate(frame, lazy=True)
    except pandera.errors.SchemaErrors as exc:
        _raise_first(exc, source)
        raise AssertionError("unreachable") from exc
