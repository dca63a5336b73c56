"""CAN-bus captures (Car-Hacking CSV layout, or a headered CSV) to a validated table."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from distillery.data.schemas import CAN_BYTES, validate_can
from distillery.errors import InputError, reason
from distillery.io import atomic_path

NORMAL = "normal"
_FLAG_NORMAL = {"r", "normal", "0"}
_FLAG_ATTACK = {"t", "attack", "1"}


def _hex(values: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Parse hex strings; return values and a mask of the unparseable ones."""
    text = values.fillna("").astype(str).str.strip().str.lower().str.removeprefix("0x")
    ok = text.str.fullmatch(r"[0-9a-f]+").fillna(False).to_numpy()
    parsed = np.zeros(len(text), dtype=np.int64)
    parsed[ok] = [int(t, 16) for t in text[ok]]
    return parsed, ~ok


class _RowChecker:
    """Collects bad rows: raises on the first bad field, or drops the rows with on_bad_rows=skip."""

    def __init__(self, source: str, raw: pd.DataFrame, on_bad_rows: str) -> None:
        self.source, self.raw, self.on_bad_rows = source, raw, on_bad_rows
        self.bad = np.zeros(len(raw), dtype=bool)

    def check(self, field: str, mask: np.ndarray, expected: str) -> None:
        if not mask.any():
            return
        if self.on_bad_rows == "skip":
            self.bad |= mask
            return
        rows = np.flatnonzero(mask)
        sample = ",".join(str(v) for v in self.raw.iloc[rows[0]].dropna().tolist())
        raise InputError(
            self.source, f"{field} (data row {rows[0] + 1})",
            f"{len(rows)} bad row(s), first {sample!r}", expected,
            fix="repair the rows or set on_bad_rows: skip for this dataset",
        )


def _parse_frames(
    rows: _RowChecker, timestamp: pd.Series, can_id: pd.Series, dlc: pd.Series,
    byte_columns: list[pd.Series],
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Shared field parsing of both layouts; returns timestamp, id, dlc, bytes, dlc-valid mask."""
    ts = pd.to_numeric(timestamp, errors="coerce").to_numpy(dtype=np.float64)
    rows.check("timestamp", ~np.isfinite(ts), "a time in seconds")
    ids, bad_id = _hex(can_id)
    rows.check("CAN ID", bad_id | (ids > 0x1FFFFFFF), "a hex CAN ID up to 1fffffff")
    length = pd.to_numeric(dlc, errors="coerce").to_numpy(dtype=np.float64)
    valid = np.isfinite(length) & (length >= 0) & (length <= 8) & (length == np.round(length))
    rows.check("DLC", ~valid, "an integer 0..8")
    length = np.where(valid, length, 0).astype(np.int64)
    data = np.zeros((len(length), 8), dtype=np.int64)
    bytes_bad = np.zeros(len(length), dtype=bool)
    for i, column in enumerate(byte_columns):
        present = length > i
        values, wrong = _hex(column)
        bytes_bad |= present & (wrong | (values > 0xFF))
        data[:, i] = np.where(present, values, 0)
    rows.check("data bytes", bytes_bad & valid, "DLC hex bytes 00..ff")
    return ts, ids, length, data, valid


def _flag_labels(rows: _RowChecker, flags: pd.Series, valid: np.ndarray, attack: str) -> np.ndarray:
    flags = flags.fillna("").astype(str).str.strip().str.lower()
    known = flags.isin(_FLAG_NORMAL | _FLAG_ATTACK).to_numpy()
    rows.check("flag", ~known & valid, "R (normal) or T (injected)")
    return np.where(flags.isin(_FLAG_ATTACK).to_numpy(), attack, NORMAL)


def read_can_csv(
    path: str | Path, attack: str, capture: str, on_bad_rows: str = "error"
) -> pd.DataFrame:
    """Read one capture; the layout is detected from the first line.

    Car-Hacking layout (no header): timestamp, hex id, DLC, DLC hex bytes, flag R/T, where T
    marks injected frames, labelled with this capture's `attack`. Headered layout: columns
    timestamp, can_id (hex), dlc, data (space-separated hex) or b0..b7, and label or flag.
    """
    source = str(path)
    raw = _read_text(source, header=None, names=range(12))
    if raw.empty:
        raise InputError(source, "file", "no rows", "at least one CAN frame")
    if not _looks_numeric(raw.iloc[0, 0]):
        return _read_headered(source, attack, capture, on_bad_rows)
    rows = _RowChecker(source, raw, on_bad_rows)
    ts, ids, dlc, data, valid = _parse_frames(
        rows, raw[0], raw[1], raw[2], [raw[3 + i] for i in range(8)]
    )
    flags = pd.Series(raw.to_numpy()[np.arange(len(raw)), 3 + dlc])
    labels = _flag_labels(rows, flags, valid, attack)
    return _assemble(capture, ts, ids, dlc, data, labels, ~rows.bad)


def _read_text(source: str, **options: object) -> pd.DataFrame:
    try:
        return pd.read_csv(source, dtype=str, skip_blank_lines=True, **options)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError,
            OSError) as exc:
        raise InputError(source, "file", f"unparseable CSV ({reason(exc)})",
                         "rows 'timestamp,hex id,dlc,bytes...,flag' or a headered CSV") from None


def _read_headered(source: str, attack: str, capture: str, on_bad_rows: str) -> pd.DataFrame:
    raw = _read_text(source)
    cols = {c.strip().lower().replace(" ", "_"): c for c in raw.columns}

    def column(name: str, *options: str) -> pd.Series:
        match = next((cols[o] for o in options if o in cols), None)
        if match is None:
            raise InputError(source, name, f"columns {list(raw.columns)}",
                             f"a column named one of {list(options)}")
        return raw[match]

    if "data" in cols:
        split = raw[cols["data"]].fillna("").str.split(expand=True).reindex(columns=range(8))
        byte_columns = [split[i] for i in range(8)]
    else:
        byte_columns = [column(f"b{i}", f"b{i}", f"data{i}", f"data[{i}]") for i in range(8)]
    rows = _RowChecker(source, raw, on_bad_rows)
    ts, ids, dlc, data, valid = _parse_frames(
        rows, column("timestamp", "timestamp", "time"),
        column("can_id", "can_id", "id", "arbitration_id"), column("dlc", "dlc"), byte_columns,
    )
    if "label" in cols:
        labels = raw[cols["label"]].fillna("").str.strip().str.lower().to_numpy()
        rows.check("label", labels == "", "a class name")
    else:
        labels = _flag_labels(rows, column("flag", "flag"), valid, attack)
    return _assemble(capture, ts, ids, dlc, data, labels, ~rows.bad)


def _looks_numeric(value: object) -> bool:
    try:
        float(str(value))
    except ValueError:
        return False
    return True


def _assemble(capture: str, timestamp: np.ndarray, can_id: np.ndarray, dlc: np.ndarray,
              data: np.ndarray, labels: np.ndarray, keep: np.ndarray) -> pd.DataFrame:
    frame = pd.DataFrame({
        "frame": np.zeros(int(keep.sum()), dtype=np.int64),
        "capture": pd.Series([capture] * int(keep.sum()), dtype=str),
        "timestamp": timestamp[keep].astype(np.float64),
        "can_id": can_id[keep].astype(np.int32),
        "dlc": dlc[keep].astype(np.int8),
        **{b: data[keep, i].astype(np.uint8) for i, b in enumerate(CAN_BYTES)},
        "label": labels[keep].astype(str),
    })
    return frame


def combine_captures(parts: list[pd.DataFrame], source: str) -> pd.DataFrame:
    """Concatenate captures, number the frames and validate the result."""
    table = pd.concat(parts, ignore_index=True)
    table["frame"] = np.arange(len(table), dtype=np.int64)
    table["label"] = table["label"].astype("category")
    return validate_can(table, source)


def write_can_frames(path: str | Path, table: pd.DataFrame) -> None:
    with atomic_path(path) as tmp:
        table.to_parquet(tmp, index=False, compression="zstd")


def read_can_frames(path: str | Path) -> pd.DataFrame:
    try:
        table = pq.read_table(path).to_pandas()
    except OSError as exc:
        raise InputError(path, "file", f"unreadable Parquet ({exc})", "a CAN frames Parquet file",
                         fix="rerun the ingest rule") from None
    table["capture"] = table["capture"].astype(str)
    return table
