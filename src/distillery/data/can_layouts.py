"""The common CAN capture layouts: detection from the first line, and parsing to frames.

- `car_hacking`: the Car-Hacking attack CSVs (DoS, Fuzzy, gear, RPM), no header:
  `1478198376.389864,0260,2,19,21,T` = timestamp, hex ID, DLC, the DLC hex bytes, then the flag
  (R normal, T injected), so a row has 3 + DLC + 1 fields.
- `car_hacking_text`: the Car-Hacking attack-free `normal_run_data.txt`, all normal:
  `Timestamp: 1479121434.850202        ID: 0350    000    DLC: 8    05 28 84 66 6d 00 00 a2`.
- `can_train_test`: can-train-and-test, header `timestamp,arbitration_id,data_field,attack`:
  `1.5,0C1,0000000000000000,0` (2 hex digits per data byte; attack 0/1).
- `syncan`: SynCAN, header `Label,Time,ID,Signal1_of_ID,..` (`Signal1,..`, or none in some
  files): `0,15.0,id2,0.25,0.5,,` (Time in ms, signals in [0, 1], unused ones empty).
- `candump`: can-utils `candump -l` logs (ROAD): `(1436509052.249713) can0 044#2A366C2BBA`
  (3 or 8 hex digit IDs, 0..16 hex digits of data), optionally a 4th field with a label.
- `csv`: any headered CSV with columns timestamp|time, can_id|id|arbitration_id (hex), dlc,
  data (space-separated hex bytes) or b0..b7, and label (a class name) or flag.

Flags and labels: R/T, 0/1 and normal/attack mark normal and injected frames; injected frames
take the capture's attack name. SynCAN carries signals, not bytes: signal k becomes byte b{k}
quantised as round(s * 255), DLC is the number of signals present, and the ID `idN` becomes
CAN ID N.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from distillery.data.can_text import Field, Fields, RowChecker
from distillery.errors import InputError

NORMAL = "normal"
MAX_CAN_ID = 0x1FFFFFFF
LAYOUTS = ("car_hacking", "car_hacking_text", "can_train_test", "syncan", "candump", "csv")
_NORMAL_FLAGS = pa.array(["r", "normal", "0"])
_ATTACK_FLAGS = pa.array(["t", "attack", "1"])


@dataclass
class Frames:
    """Parsed frames of one block; `label` indexes `classes`."""

    timestamp: np.ndarray
    can_id: np.ndarray
    dlc: np.ndarray
    data: np.ndarray
    label: np.ndarray
    classes: list[str]

    def __len__(self) -> int:
        return len(self.timestamp)

    def take(self, rows: np.ndarray) -> Frames:
        return Frames(self.timestamp[rows], self.can_id[rows], self.dlc[rows], self.data[rows],
                      self.label[rows], self.classes)

    def relabel(self, rows: np.ndarray, name: str) -> Frames:
        """The same frames with `rows` labelled `name`."""
        classes = self.classes if name in self.classes else [*self.classes, name]
        label = np.where(rows, classes.index(name), self.label)
        return Frames(self.timestamp, self.can_id, self.dlc, self.data, label, classes)

    @staticmethod
    def concat(parts: Sequence[Frames]) -> Frames:
        """One set of frames; blocks may know different classes (free-text labels)."""
        classes = list(dict.fromkeys(c for part in parts for c in part.classes))
        label = [np.array([classes.index(c) for c in p.classes], dtype=np.int64)[p.label]
                 for p in parts]
        return Frames(*(np.concatenate([getattr(p, name) for p in parts])
                        for name in ("timestamp", "can_id", "dlc", "data")),
                      np.concatenate(label), classes)


@dataclass(frozen=True)
class Layout:
    """How to read one capture: the field separator (None: whitespace), whether the first line
    is a header, and the parser of a block's fields."""

    name: str
    separator: bytes | None
    header: bool
    parse: Callable[[Fields, RowChecker], Frames]


def detect_layout(first_line: str) -> str:
    """The layout of a capture, from its first non-blank line."""
    text = first_line.strip()
    cells = [c.strip().lower() for c in text.split(",")]
    if text.lower().startswith("timestamp:"):
        return "car_hacking_text"
    if text.startswith("("):
        return "candump"
    if _syncan_row(cells) or ({"label", "time", "id"} <= set(cells)
                              and any(c.startswith("signal") for c in cells)):
        return "syncan"
    if _is_number(cells[0]):
        return "car_hacking"
    if "data_field" in cells:
        return "can_train_test"
    return "csv"


def make_layout(name: str, first_line: str, attack: str, source: str) -> Layout:
    """The named layout for a capture whose first non-blank line is `first_line`."""
    if name == "car_hacking":
        return Layout(name, b",", False, lambda f, rows: _car_hacking(f, rows, attack))
    if name == "car_hacking_text":
        return Layout(name, None, False, _car_hacking_text)
    if name == "candump":
        return Layout(name, None, False, lambda f, rows: _candump(f, rows, attack))
    if name == "syncan":
        return _syncan(first_line, attack, source)
    if name == "can_train_test":
        return _can_train_test(first_line, attack, source)
    return _csv(first_line, attack, source)


def _syncan_row(cells: list[str]) -> bool:
    return len(cells) >= 3 and re.fullmatch(r"id\d+", cells[2]) is not None


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


# -- shared field parsers ------------------------------------------------------------------


def _timestamps(rows: RowChecker, field: Field, expected: str = "a time in seconds") -> np.ndarray:
    values, bad = field.floats()
    rows.check("timestamp", bad, expected)
    return values


def _can_ids(rows: RowChecker, field: Field) -> np.ndarray:
    ids, bad = field.integers(16, 8)
    rows.check("CAN ID", bad | (ids > MAX_CAN_ID), "a hex CAN ID up to 1fffffff")
    return ids


def _byte_list(rows: RowChecker, dlc_field: Field, fields: Fields, positions: Sequence[int]
               ) -> tuple[np.ndarray, np.ndarray]:
    """DLC and its bytes, the 8 hex fields at `positions`; fields after the DLC bytes are
    ignored."""
    dlc, bad = dlc_field.integers(10, 1)
    rows.check("DLC", bad | (dlc > 8), "an integer 0..8")
    values, malformed = fields.columns(positions).hex_bytes()
    needed = np.arange(8) < dlc[:, None]
    rows.check("data bytes", (needed & malformed).any(axis=1), "DLC hex bytes 00..ff")
    return dlc, np.where(needed, values, 0)


def _hex_payload(rows: RowChecker, field: Field) -> tuple[np.ndarray, np.ndarray]:
    data, dlc, bad = field.payload()
    rows.check("data", bad, "0..8 bytes as an even number of hex digits (up to 16)")
    return dlc, data


def _flags(rows: RowChecker, field: Field, expected: str, required: bool = True) -> np.ndarray:
    """1 for attack flags (T, 1, attack), 0 for normal ones (R, 0, normal); absent is normal
    unless `required`."""
    text = field.lowered()
    attack = pc.is_in(text, value_set=_ATTACK_FLAGS).to_numpy(zero_copy_only=False)
    normal = pc.is_in(text, value_set=_NORMAL_FLAGS).to_numpy(zero_copy_only=False)
    rows.check("flag", ~(attack | normal) & (field.present | required), expected)
    return attack.astype(np.int64)


def _header(first_line: str) -> list[str]:
    return [c.strip().lower().replace(" ", "_") for c in first_line.split(",")]


def _column(columns: list[str], source: str, name: str, *options: str) -> int:
    for option in options:
        if option in columns:
            return columns.index(option)
    shown = repr(columns)
    raise InputError(source, name, f"columns {shown if len(shown) <= 200 else shown[:197] + '...'}",
                     f"a column named one of {list(options)}",
                     fix="rename the column, or set layout: if the layout was misdetected")


def _check_width(rows: RowChecker, fields: Fields, low: int, high: int, expected: str) -> None:
    rows.check("fields", (fields.count < low) | (fields.count > high), expected)


# -- the layouts ---------------------------------------------------------------------------


def _car_hacking(fields: Fields, rows: RowChecker, attack: str) -> Frames:
    ts = _timestamps(rows, fields[0])
    ids = _can_ids(rows, fields[1])
    dlc, data = _byte_list(rows, fields[2], fields, range(3, 11))
    label = _flags(rows, fields.at(3 + dlc), "R (normal) or T (injected)")
    rows.check("fields", fields.count != 4 + dlc,
               "3 + DLC + 1 fields (timestamp, ID, DLC, the DLC bytes, flag)")
    return Frames(ts, ids, dlc, data, label, [NORMAL, attack])


def _car_hacking_text(fields: Fields, rows: RowChecker) -> Frames:
    shape = fields[0].equals("Timestamp:") & fields[2].equals("ID:") & fields[5].equals("DLC:")
    rows.check("line", ~shape, "'Timestamp: <seconds> ID: <hex id> <flags> DLC: <n> <n hex bytes>'")
    ts = _timestamps(rows, fields[1])
    ids = _can_ids(rows, fields[3])
    dlc, data = _byte_list(rows, fields[6], fields, range(7, 15))
    rows.check("fields", fields.count != 7 + dlc, "exactly DLC hex bytes after 'DLC: <n>'")
    return Frames(ts, ids, dlc, data, np.zeros(len(ts), dtype=np.int64), [NORMAL])


def _candump(fields: Fields, rows: RowChecker, attack: str) -> Frames:
    _check_width(rows, fields, 3, 4, "'(seconds) interface ID#data', then optionally a label")
    stamp = fields[0]
    wrapped = stamp.head(1).equals("(") & stamp.tail(1).equals(")")
    ts = _timestamps(rows, stamp.sub(1, 1))
    rows.check("timestamp", ~wrapped, "a time in seconds in parentheses")
    can_id, payload = fields[2].split_at("#", 8 + 1 + 16)
    rows.check("frame", ~can_id.present, "ID#data with a single '#'")
    ids = _can_ids(rows, can_id)
    dlc, data = _hex_payload(rows, payload)
    label = _flags(rows, fields[3], "0/R (normal) or 1/T (attack), or no label", required=False)
    return Frames(ts, ids, dlc, data, label, [NORMAL, attack])


def _can_train_test(first_line: str, attack: str, source: str) -> Layout:
    columns = _header(first_line)
    ts, can_id, payload, flag = (_column(columns, source, name, name) for name in
                                 ("timestamp", "arbitration_id", "data_field", "attack"))

    def parse(fields: Fields, rows: RowChecker) -> Frames:
        _check_width(rows, fields, len(columns), len(columns),
                     f"{len(columns)} comma-separated fields like the header")
        stamps = _timestamps(rows, fields[ts])
        ids = _can_ids(rows, fields[can_id])
        dlc, data = _hex_payload(rows, fields[payload])
        label = _flags(rows, fields[flag], "0 (normal) or 1 (attack)")
        return Frames(stamps, ids, dlc, data, label, [NORMAL, attack])

    return Layout("can_train_test", b",", True, parse)


def _syncan(first_line: str, attack: str, source: str) -> Layout:
    cells = _header(first_line)
    header = not _syncan_row(cells)
    if header:
        label, time, can_id = (_column(cells, source, name, name)
                               for name in ("label", "time", "id"))
        signals = sorted((c for c in cells if c.startswith("signal")),
                         key=lambda c: int(re.sub(r"\D", "", c) or 0))
        signal_columns = [cells.index(c) for c in signals]
        if not 1 <= len(signal_columns) <= 8:
            raise InputError(source, "header", f"{len(signal_columns)} signal columns",
                             "1 to 8 columns Signal1.. (one byte each)")
        width = len(cells)
    else:
        label, time, can_id, signal_columns, width = 0, 1, 2, [3, 4, 5, 6], 7

    def parse(fields: Fields, rows: RowChecker) -> Frames:
        _check_width(rows, fields, 3, width, f"Label, Time, ID and at most {width - 3} signals")
        stamps = _timestamps(rows, fields[time], "a time in milliseconds") / 1000.0
        id_field = fields[can_id]
        ids, bad = id_field.sub(2).integers(10, 9)
        rows.check("CAN ID", bad | ~id_field.head(2).equals("id") | (ids > MAX_CAN_ID),
                   "an ID like id1..id10")
        n = len(stamps)
        values = np.zeros((n, 8))
        given = np.zeros((n, 8), dtype=bool)
        wrong = np.zeros(n, dtype=bool)
        for k, column in enumerate(signal_columns):
            field = fields[column]
            given[:, k] = field.present & (field.length > 0)
            value, malformed = field.floats()
            wrong |= given[:, k] & (malformed | (value < 0) | (value > 1))
            values[:, k] = np.where(given[:, k], value, 0.0)
        dlc = given.sum(axis=1)
        # SynCAN leaves the unused signals of an ID empty: gaps before a value are damage
        wrong |= (given != (np.arange(8) < dlc[:, None])).any(axis=1)
        rows.check("signals", wrong, "numbers in [0, 1], empty only after the last signal")
        data = np.rint(np.where(wrong[:, None], 0.0, values) * 255).astype(np.int64)
        flags = _flags(rows, fields[label], "0 (normal) or 1 (attack)")
        return Frames(stamps, ids, dlc, data, flags, [NORMAL, attack])

    return Layout("syncan", b",", header, parse)


def _csv(first_line: str, attack: str, source: str) -> Layout:
    columns = _header(first_line)
    ts = _column(columns, source, "timestamp", "timestamp", "time")
    can_id = _column(columns, source, "can_id", "can_id", "id", "arbitration_id")
    dlc = _column(columns, source, "dlc", "dlc")
    if "data" in columns:
        data, byte_columns = columns.index("data"), []
    else:
        data = -1
        byte_columns = [_column(columns, source, f"b{i}", f"b{i}", f"data{i}", f"data[{i}]")
                        for i in range(8)]
    label = columns.index("label") if "label" in columns else -1
    flag = -1 if label >= 0 else _column(columns, source, "flag", "flag")

    def parse(fields: Fields, rows: RowChecker) -> Frames:
        _check_width(rows, fields, 1, len(columns),
                     f"at most {len(columns)} fields like the header")
        stamps = _timestamps(rows, fields[ts])
        ids = _can_ids(rows, fields[can_id])
        if data >= 0:
            lengths, payload = _byte_list(rows, fields[dlc], fields[data].fields(), range(8))
        else:
            lengths, payload = _byte_list(rows, fields[dlc], fields, byte_columns)
        if flag >= 0:
            codes = _flags(rows, fields[flag], "R (normal) or T (injected)")
            return Frames(stamps, ids, lengths, payload, codes, [NORMAL, attack])
        names = pc.ascii_trim_whitespace(fields[label].lowered())
        rows.check("label", pc.equal(names, "").to_numpy(zero_copy_only=False), "a class name")
        encoded = pc.dictionary_encode(names)
        return Frames(stamps, ids, lengths, payload, encoded.indices.to_numpy().astype(np.int64),
                      encoded.dictionary.to_pylist())

    return Layout("csv", b",", True, parse)
