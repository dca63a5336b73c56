"""CAN-bus captures, in any of the common public layouts, to one validated frame table.

`ingest_can` streams every capture block by block into Parquet row groups, so memory stays
bounded however long the captures are; `read_can_csv` reads one capture into memory (small
files, tests). Layouts and their detection are described in `distillery.data.can_layouts`.
"""

from __future__ import annotations

from collections import Counter, deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from distillery.data.can_layouts import LAYOUTS, NORMAL, Frames, Layout, detect_layout, make_layout
from distillery.data.can_text import (
    BLOCK_BYTES,
    SKIP_HINT,
    BadRow,
    RowChecker,
    block_fields,
    read_blocks,
)
from distillery.data.schemas import CAN_BYTES, validate_can
from distillery.errors import ConfigError, InputError
from distillery.io import atomic_path

__all__ = ["LAYOUTS", "NORMAL", "Capture", "CaptureReader", "combine_captures", "ingest_can",
           "read_can_csv", "read_can_frames"]

FRAME_SCHEMA = pa.schema([
    ("frame", pa.int64()), ("capture", pa.string()), ("vehicle", pa.string()),
    ("timestamp", pa.float64()),
    ("can_id", pa.int32()), ("dlc", pa.int8()), *((b, pa.uint8()) for b in CAN_BYTES),
    ("label", pa.dictionary(pa.int32(), pa.string())),
])


@dataclass(frozen=True)
class Capture:
    """One raw file: its capture name, the label of its attack frames, an optional layout
    (None: the dataset's), optional attack intervals in seconds from its first frame,
    inside which every frame is labelled with the attack (ROAD-style metadata), and the
    vehicle it was recorded on."""

    path: str
    capture: str
    attack: str = "attack"
    layout: str | None = None
    attack_intervals: tuple[tuple[float, float], ...] = ()
    vehicle: str = "vehicle"

    @classmethod
    def from_entry(cls, entry: Mapping[str, Any]) -> Capture:
        """From a dataset's `raw:` entry; unset (missing or null) keys take their defaults."""
        path = str(entry["path"])
        intervals = entry.get("attack_intervals") or ()
        return cls(path, entry.get("capture") or Path(path).stem,
                   entry.get("attack") or "attack", entry.get("layout"),
                   tuple((float(a), float(b)) for a, b in intervals),
                   entry.get("vehicle") or "vehicle")


class CaptureReader:
    """Iterates over the frames of one capture, a block of lines at a time.

    Blocks are parsed by `threads` worker threads (numpy and Arrow release the GIL) and come
    out in file order; with `threads=0` each block is parsed as soon as it is read and comes
    out at once (a live stream). With `stream`, lines are read from it as they arrive and
    `capture.path` only names it. Bad rows raise InputError naming the file, the data row and
    its line, with `skip_hint` in the fix, unless on_bad_rows="skip": then they are dropped and
    counted in `skipped`. After iteration, `layout` is the layout that was read and `rows` the
    number of data rows.
    """

    def __init__(self, capture: Capture, on_bad_rows: str = "error", layout: str = "auto",
                 block_bytes: int = BLOCK_BYTES, threads: int = 2,
                 stream: BinaryIO | None = None, skip_hint: str = SKIP_HINT) -> None:
        chosen = capture.layout or layout
        if chosen != "auto" and chosen not in LAYOUTS:
            raise ConfigError(f"layout: found {chosen!r}, expected auto or one of {list(LAYOUTS)}")
        if on_bad_rows not in ("error", "skip"):
            raise ConfigError(f"on_bad_rows: found {on_bad_rows!r}, expected error or skip")
        self.capture, self.on_bad_rows, self.chosen = capture, on_bad_rows, chosen
        self.block_bytes, self.threads = block_bytes, threads
        self.stream, self.skip_hint = stream, skip_hint
        self.layout: str | None = None
        self.rows = self.skipped = 0
        self._last_time, self._first_time = -np.inf, np.nan

    def __iter__(self) -> Iterator[Frames]:
        self.rows = self.skipped = 0
        self._last_time, self._first_time = -np.inf, np.nan
        if self.threads == 0:
            for block in self._blocks():
                yield from self._finish(partial(_parse_block, *block, self.on_bad_rows,
                                                self.skip_hint))
        else:
            with ThreadPoolExecutor(self.threads) as pool:
                pending: deque[Callable[[], tuple[Frames, RowChecker]]] = deque()
                for block in self._blocks():
                    pending.append(pool.submit(_parse_block, *block, self.on_bad_rows,
                                               self.skip_hint).result)
                    if len(pending) > self.threads:
                        yield from self._finish(pending.popleft())
                while pending:
                    yield from self._finish(pending.popleft())
        source = self.capture.path
        if not self.rows:
            raise InputError(source, "file", "no rows", "at least one CAN frame")
        if self.skipped == self.rows:
            raise InputError(source, "file", f"all {self.rows} rows bad (skipped)",
                             "at least one valid CAN frame",
                             fix=f"check that the layout {self.layout!r} is right (set layout:)")

    def _blocks(self) -> Iterator[tuple[bytes, Layout, int, bool]]:
        """Blocks with their layout (found from the first non-blank line), the number of their
        first line, and whether they hold the header line."""
        layout: Layout | None = None
        lines_before = 0
        for block in read_blocks(self.capture.path, self.block_bytes, self.stream):
            header = False
            if layout is None and (first_line := _first_line(block)) is not None:
                if not all(c.isprintable() or c == "\t" for c in first_line.strip()):
                    raise InputError(self.capture.path, "file", "a first line that is not text",
                                     f"a CAN capture in one of the layouts {list(LAYOUTS)}")
                name = detect_layout(first_line) if self.chosen == "auto" else self.chosen
                layout = make_layout(name, first_line, self.capture.attack, self.capture.path)
                self.layout, header = name, layout.header
            if layout is not None:
                yield block, layout, lines_before + 1, header
            lines_before += block.count(b"\n")

    def _finish(self, parsed: Callable[[], tuple[Frames, RowChecker]]) -> Iterator[Frames]:
        """The good frames of a block (`parsed()` parses it, or waits for the worker that
        does), checked for time order against the block before."""
        try:
            frames, rows = parsed()
            if not len(rows.bad):
                return
            kept = np.flatnonzero(~rows.bad)
            frames = frames.take(kept)
            _check_order(rows, kept, frames.timestamp, self._last_time)
        except BadRow as bad:
            raise bad.error(self.capture.path, self.rows) from None
        self.rows += len(rows.bad)
        self.skipped += len(rows.bad) - len(kept)
        if len(frames):
            self._last_time = frames.timestamp[-1]
            if np.isnan(self._first_time):
                self._first_time = frames.timestamp[0]
            yield self._label_intervals(frames)

    def _label_intervals(self, frames: Frames) -> Frames:
        if not self.capture.attack_intervals:
            return frames
        since = frames.timestamp - self._first_time
        inside = np.zeros(len(frames), dtype=bool)
        for start, stop in self.capture.attack_intervals:
            inside |= (since >= start) & (since <= stop)
        return frames.relabel(inside, self.capture.attack)


def _parse_block(block: bytes, layout: Layout, first_line: int, header: bool,
                 on_bad_rows: str, skip_hint: str) -> tuple[Frames, RowChecker]:
    """Frames of every data row of a block, and the checker that marked the bad ones."""
    fields, non_ascii = block_fields(block, layout.separator)
    keep = ~fields.blank
    if header:
        keep[np.argmax(keep)] = False
    fields.select(keep)
    rows = RowChecker(fields, first_line + np.flatnonzero(keep), on_bad_rows, layout.name,
                      skip_hint)
    rows.check("text", non_ascii[keep], "ASCII text")
    return layout.parse(fields, rows), rows


def _first_line(block: bytes) -> str | None:
    """The first non-blank line of a block, or None if all are blank."""
    start = 0
    while start < len(block):
        end = block.index(b"\n", start)
        if block[start:end].strip():
            return block[start:end].decode("ascii", "replace")
        start = end + 1
    return None


def _check_order(rows: RowChecker, kept: np.ndarray, timestamp: np.ndarray,
                 last_time: float) -> None:
    """Timestamps never decrease within a capture; windows and time-block splits rely on it."""
    back = np.flatnonzero(np.diff(timestamp, prepend=last_time) < 0)
    if back.size:
        i = back[0]
        before = timestamp[i - 1] if i else last_time
        rows.fail("timestamp", int(kept[i]),
                  f"a time not before the previous frame's {before:.6f} "
                  "(timestamps non-decreasing within a capture)",
                  fix="sort the capture by time")


def _table(frames: Frames, capture: Capture, first_frame: int, labels_as_text: bool
           ) -> pd.DataFrame:
    n = len(frames)
    frame = np.arange(first_frame, first_frame + n, dtype=np.int64)
    label = pd.Categorical.from_codes(frames.label, categories=frames.classes)

    def constant(text: str) -> pd.Series:
        # a one-value dictionary decoded by Arrow: far cheaper than n Python strings
        return pa.DictionaryArray.from_arrays(np.zeros(n, dtype=np.int32), [text]) \
            .cast(pa.string()).to_pandas().set_axis(frame)

    return pd.DataFrame({
        "frame": frame,
        "capture": constant(capture.capture),
        "vehicle": constant(capture.vehicle),
        "timestamp": frames.timestamp.astype(np.float64),
        "can_id": frames.can_id.astype(np.int32),
        "dlc": frames.dlc.astype(np.int8),
        **{b: frames.data[:, i].astype(np.uint8) for i, b in enumerate(CAN_BYTES)},
        "label": np.asarray(label, dtype=str) if labels_as_text else label,
    }, index=frame)


def read_can_csv(path: str | Path, attack: str, capture: str, on_bad_rows: str = "error",
                 layout: str = "auto", vehicle: str = "vehicle") -> pd.DataFrame:
    """Read one capture of `vehicle` into memory (layout detected from its first line unless
    given).

    Rows of attack frames are labelled `attack`; pass the result through combine_captures.
    """
    source = Capture(str(path), capture, attack, vehicle=vehicle)
    frames = Frames.concat(list(CaptureReader(source, on_bad_rows, layout)))
    return _table(frames, source, 0, labels_as_text=True).reset_index(drop=True)


def combine_captures(parts: list[pd.DataFrame], source: str) -> pd.DataFrame:
    """Concatenate captures, number the frames and validate the result."""
    table = pd.concat(parts, ignore_index=True)
    table["frame"] = np.arange(len(table), dtype=np.int64)
    table["label"] = table["label"].astype("category")
    return validate_can(table, source)


def ingest_can(captures: Sequence[Capture], output: str | Path, on_bad_rows: str = "error",
               layout: str = "auto", block_bytes: int = BLOCK_BYTES, threads: int = 2
               ) -> dict[str, Any]:
    """Stream captures into one validated Parquet frame table (atomically); return a summary.

    `layout` applies to captures that do not name their own; "auto" detects each file's.
    Every block is checked with the CAN pandera schema before it is written as a row group.
    """
    frames_written, labels, can_ids = 0, Counter(), np.zeros(0, dtype=np.int64)
    layouts, skipped = {}, 0
    # dictionary pages only where values repeat: for the numeric columns they cost time, not size
    with atomic_path(output) as tmp, pq.ParquetWriter(
            tmp, FRAME_SCHEMA, compression="zstd",
            use_dictionary=["capture", "vehicle", "label"]) as writer:
        for capture in captures:
            reader = CaptureReader(capture, on_bad_rows, layout, block_bytes, threads)
            for frames in reader:
                table = validate_can(_table(frames, capture, frames_written, False),
                                     capture.path)
                writer.write_table(pa.Table.from_pandas(table, schema=FRAME_SCHEMA,
                                                        preserve_index=False))
                frames_written += len(frames)
                counts = np.bincount(frames.label, minlength=len(frames.classes))
                labels.update(dict(zip(frames.classes, counts.tolist(), strict=True)))
                can_ids = np.union1d(can_ids, frames.can_id)
            layouts[capture.capture] = reader.layout
            skipped += reader.skipped
    return {"frames": frames_written, "captures": len({c.capture for c in captures}),
            "vehicles": sorted({c.vehicle for c in captures}),
            "can_ids": len(can_ids), "labels": {k: v for k, v in sorted(labels.items()) if v},
            "layouts": layouts, "skipped_rows": skipped}


def read_can_frames(path: str | Path) -> pd.DataFrame:
    try:
        table = pq.read_table(path).to_pandas()
    except OSError as exc:
        raise InputError(path, "file", f"unreadable Parquet ({exc})", "a CAN frames Parquet file",
                         fix="rerun the ingest rule") from None
    table["capture"] = table["capture"].astype(str)
    table["vehicle"] = table["vehicle"].astype(str)
    # row groups carry their own label dictionaries; present one sorted set of classes
    table["label"] = table["label"].cat.reorder_categories(
        sorted(table["label"].cat.categories))
    return table
