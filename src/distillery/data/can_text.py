"""Vectorised reading of CAN capture text: blocks of whole lines, their fields, and values.

Everything works on the raw bytes of a block with numpy (no Python loop per row): a field is a
byte span per line, and hex, decimal and float values are decoded from those spans for all
lines at once. A block is a few MB, so a capture of millions of frames is read in bounded
memory.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from distillery.errors import InputError, reason

# blocks of 8 MB: the arrays of one block stay below glibc's mmap threshold, so they
# reuse heap memory instead of page-faulting fresh memory every time
BLOCK_BYTES = 8 << 20
# zero bytes after a block's last line: a field's first bytes can be read without bounds checks
PAD = 32
NEWLINE = ord("\n")
_BOM = b"\xef\xbb\xbf"
_SPACE = np.zeros(256, dtype=bool)
_SPACE[list(b" \t\r\n\v\f")] = True
# value of every byte as a digit; 99 marks bytes that are no digit in any base up to 16
_DIGIT = np.full(256, 99, dtype=np.uint8)
_DIGIT[list(b"0123456789")] = np.arange(10)
_DIGIT[list(b"abcdef")] = np.arange(10, 16)
_DIGIT[list(b"ABCDEF")] = np.arange(10, 16)
_LOWER = np.arange(256, dtype=np.uint8)
_LOWER[list(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ")] = list(b"abcdefghijklmnopqrstuvwxyz")
_FLOAT = r"^[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?$"


def read_blocks(path: str | Path, block_bytes: int = BLOCK_BYTES,
                stream: BinaryIO | None = None) -> Iterator[bytes]:
    """The file as blocks of whole lines of about `block_bytes`; every block ends in a newline.

    With `stream` (stdin, a pipe), lines are read from it as they arrive, `path` only naming it
    in messages: a block is what one read returned (at most `block_bytes`), so each line is
    passed on as soon as it is complete rather than when a full block has arrived.
    """
    try:
        if stream is not None:
            yield from _line_blocks(stream, block_bytes)
            return
        with open(path, "rb") as handle:
            yield from _line_blocks(handle, block_bytes)
    except OSError as exc:
        raise InputError(path, "file", f"unreadable ({reason(exc)})", "a readable CAN capture",
                         fix="check the path in the dataset's raw: entry") from None


def _line_blocks(handle: BinaryIO, block_bytes: int) -> Iterator[bytes]:
    # read1: whatever is available, up to block_bytes (a whole block from a file)
    read = getattr(handle, "read1", handle.read)
    carry, start = b"", True
    while chunk := read(block_bytes):
        data = carry + chunk
        if start:
            if len(data) < len(_BOM) and _BOM.startswith(data):
                carry = data  # the rest of a byte-order mark may follow
                continue
            data, start = data.removeprefix(_BOM), False
        cut = data.rfind(b"\n") + 1
        # a block without any newline is part of one long line: keep reading
        carry = data[cut:]
        if cut:
            yield data[:cut]
    if carry and not (start and _BOM.startswith(carry)):
        yield carry + b"\n"


@dataclass(frozen=True)
class Field:
    """One field of every line (or several: arrays of shape (lines, fields)): byte spans into
    `buf`, absent where not `present`."""

    buf: np.ndarray
    start: np.ndarray
    length: np.ndarray
    present: np.ndarray

    def byte(self, k: int) -> np.ndarray:
        """Byte k of every field (whatever follows where the field is shorter: check length)."""
        return self.buf[self.start + k]

    def head(self, n: int) -> Field:
        """The first `n` bytes of every field (absent where it is shorter)."""
        ok = self.present & (self.length >= n)
        return Field(self.buf, self.start, np.where(ok, n, 0), ok)

    def tail(self, n: int) -> Field:
        """The last `n` bytes of every field (absent where it is shorter)."""
        ok = self.present & (self.length >= n)
        return Field(self.buf, self.start + np.where(ok, self.length - n, 0),
                     np.where(ok, n, 0), ok)

    def sub(self, front: int, back: int = 0) -> Field:
        """The field without `front` leading and `back` trailing bytes."""
        ok = self.present & (self.length >= front + back)
        return Field(self.buf, self.start + front, np.where(ok, self.length - front - back, 0), ok)

    def integers(self, base: int, max_digits: int) -> tuple[np.ndarray, np.ndarray]:
        """Values in `base` (hex may start with 0x), and a mask of absent or malformed fields."""
        start, length = self.start, np.where(self.present, self.length, 0)
        if base == 16:
            prefixed = (length > 2) & (self.byte(0) == ord("0")) & (_LOWER[self.byte(1)] == 120)
            start = np.where(prefixed, start + 2, start)
            length = np.where(prefixed, length - 2, length)
        bad = ~self.present | (length == 0) | (length > max_digits)
        value = np.zeros(length.shape, dtype=np.int64)
        for k in range(max_digits):
            digit = _DIGIT[self.buf[start + k]]
            inside = k < length
            bad |= inside & (digit >= base)
            value = np.where(inside, value * base + digit, value)
        return np.where(bad, 0, value), bad

    def hex_bytes(self) -> tuple[np.ndarray, np.ndarray]:
        """Hex bytes (00..ff): values and a mask of absent or malformed fields."""
        if (self.length > 2).any():
            return self.integers(16, 2)  # 0x-prefixed, or damaged: the general parser
        high, low = _DIGIT[self.byte(0)], _DIGIT[self.byte(1)]
        two = self.length == 2
        bad = ~self.present | (self.length == 0) | (high > 15) | (two & (low > 15))
        return np.where(bad, 0, np.where(two, high * 16 + low, high)), bad

    def payload(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """A hex string of up to 8 bytes ('0a1b..'): (n, 8) bytes, byte counts, malformed mask."""
        length = np.where(self.present, self.length, 0)
        bad = ~self.present | (length % 2 == 1) | (length > 16)
        data = np.zeros((len(length), 8), dtype=np.int64)
        for k in range(16):
            digit = _DIGIT[self.byte(k)]
            inside = k < length
            bad |= inside & (digit >= 16)
            data[:, k // 2] += np.where(inside, digit, 0) << (4 * (1 - k % 2))
        return np.where(bad[:, None], 0, data), np.where(bad, 0, length // 2), bad

    def strings(self) -> pa.LargeStringArray:
        """The fields as Arrow strings (absent ones empty); fields must not overlap and be in
        byte order, as one field of successive lines is."""
        n = len(self.start)
        end = self.start + np.where(self.present, self.length, 0)
        reached = np.maximum.accumulate(np.where(self.present, end, 0))
        # an absent field is an empty span where the one before ended, keeping spans in order
        start = np.where(self.present, self.start, np.concatenate([[0], reached[:-1]]))
        end = np.where(self.present, end, start)
        # the fields and the gaps between them tile the buffer: take every second span
        offsets = np.empty(2 * n + 1, dtype=np.int64)
        offsets[0:-1:2], offsets[1:-1:2], offsets[-1] = start, end, end[-1] if n else 0
        spans = pa.LargeStringArray.from_buffers(2 * n, pa.py_buffer(offsets),
                                                 pa.py_buffer(self.buf))
        return spans.take(pa.array(np.arange(0, 2 * n, 2)))

    def floats(self) -> tuple[np.ndarray, np.ndarray]:
        """Decimal numbers (Arrow's correctly rounded parser), and a mask of malformed ones."""
        text = self.strings()
        try:
            values = pc.cast(text, pa.float64())
        except pa.ArrowInvalid:
            # only when something is malformed: find which, and parse the rest
            values = pc.cast(pc.if_else(pc.match_substring_regex(text, _FLOAT), text, "nan"),
                             pa.float64())
        numbers = values.to_numpy(zero_copy_only=False)
        return numbers, ~self.present | ~np.isfinite(numbers)

    def lowered(self) -> pa.LargeStringArray:
        return pc.ascii_lower(self.strings())

    def equals(self, literal: str) -> np.ndarray:
        """Which fields are `literal`, ignoring case."""
        same = self.present & (self.length == len(literal))
        for k, char in enumerate(literal.lower().encode()):
            same &= _LOWER[self.byte(k)] == char
        return same

    def split_at(self, separator: str, max_length: int) -> tuple[Field, Field]:
        """The parts before and after the only `separator` (absent if there is none or several)."""
        length = np.where(self.present, self.length, 0)
        hits = np.zeros(length.shape, dtype=np.int64)
        at = np.zeros(length.shape, dtype=np.int64)
        for k in range(max_length):
            hit = (k < length) & (self.byte(k) == ord(separator))
            at = np.where(hit & (hits == 0), k, at)
            hits += hit
        ok = self.present & (length <= max_length) & (hits == 1)
        return (Field(self.buf, self.start, np.where(ok, at, 0), ok),
                Field(self.buf, self.start + at + 1, np.where(ok, length - at - 1, 0), ok))

    def fields(self) -> Fields:
        """The whitespace-separated parts of every field (a space-separated data column)."""
        text = self.strings()
        lengths = np.diff(np.frombuffer(text.buffers()[1], dtype=np.int64))
        data = np.frombuffer(text.buffers()[2] or b"", dtype=np.uint8)
        # a newline after every field makes each one a line of its own
        buf = np.full(len(data) + len(text) + PAD, NEWLINE, dtype=np.uint8)
        buf[len(data) + len(text):] = 0
        buf[np.arange(len(data)) + np.repeat(np.arange(len(text)), lengths)] = data
        return Fields(buf, None)


class Fields:
    """The fields of every line of a block of whole lines.

    `separator` b"," splits at every comma (empty fields are kept, spaces around fields are
    dropped); None splits at runs of whitespace.
    """

    def __init__(self, buf: np.ndarray, separator: bytes | None, trim: bool = True) -> None:
        self.buf = buf
        newline = np.flatnonzero(buf == NEWLINE)
        self.line_start = np.concatenate([[0], newline[:-1] + 1])
        self.line_end = newline
        delimiter = _SPACE[buf] if separator is None else (buf == separator[0]) | (buf == NEWLINE)
        end = np.flatnonzero(delimiter)
        start = np.concatenate([[0], end[:-1] + 1])
        # fields up to and including each line's last one, counted at the line's newline
        last = np.flatnonzero(buf[end] == NEWLINE)
        if separator is None:
            keep = end > start
            start, end = start[keep], end[keep]
            upto = np.cumsum(keep)[last]
        else:
            if trim:
                _trim(buf, start, end)
            upto = last + 1
        self.start, self.length = start, end - start
        self.count = np.diff(upto, prepend=0)
        self.first = upto - self.count
        first_length = np.zeros(len(self.count), dtype=np.int64)
        has = self.count > 0
        first_length[has] = self.length[self.first[has]]
        # blank lines: no field, or a single empty one
        self.blank = (self.count == 0) | ((self.count == 1) & (first_length == 0))

    def __len__(self) -> int:
        return len(self.count)

    def select(self, rows: np.ndarray) -> None:
        """Keep only the lines `rows` (indices or a mask)."""
        for name in ("line_start", "line_end", "count", "first", "blank"):
            setattr(self, name, getattr(self, name)[rows])

    def __getitem__(self, j: int) -> Field:
        return self.at(np.full(len(self), j))

    def index(self, position: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Index (into all fields of the block) of field `position` of every line, and whether
        the line has it; `position` is one per line, or a row of positions for every line."""
        position = np.asarray(position)
        shape = (-1,) + (1,) * (position.ndim - 1)
        count, first = self.count.reshape(shape), self.first.reshape(shape)
        present = (position >= 0) & (count > position)
        return np.where(present, first + position, 0), present

    def at(self, position: np.ndarray) -> Field:
        """Field number `position[i]` (0-based) of every line i."""
        index, present = self.index(position)
        if not len(self.start):
            return Field(self.buf, np.zeros(index.shape, dtype=np.int64),
                         np.zeros(index.shape, dtype=np.int64), present)
        return Field(self.buf, self.start[index], np.where(present, self.length[index], 0), present)

    def columns(self, positions: Sequence[int]) -> Field:
        """Fields `positions` of every line, as (lines, len(positions)) arrays."""
        return self.at(np.asarray(positions)[None, :])

    def text(self, i: int) -> str:
        """Line i as text, for messages."""
        raw = self.buf[self.line_start[i] : self.line_end[i]].tobytes()
        return raw.decode("ascii", "replace").strip()


def _trim(buf: np.ndarray, start: np.ndarray, end: np.ndarray) -> None:
    """Move span bounds past surrounding whitespace (in place); usually none, or one \\r."""
    moving = np.flatnonzero((start < end) & _SPACE[buf[start]])
    while moving.size:
        start[moving] += 1
        moving = moving[(start[moving] < end[moving]) & _SPACE[buf[start[moving]]]]
    moving = np.flatnonzero((start < end) & _SPACE[buf[end - 1]])
    while moving.size:
        end[moving] -= 1
        moving = moving[(start[moving] < end[moving]) & _SPACE[buf[end[moving] - 1]]]


def block_fields(block: bytes, separator: bytes | None) -> tuple[Fields, np.ndarray]:
    """The fields of a block of lines, and which lines had non-ASCII bytes (read as '?')."""
    buf = np.zeros(len(block) + PAD, dtype=np.uint8)
    buf[: len(block)] = np.frombuffer(block, dtype=np.uint8)
    high = np.flatnonzero(buf >= 0x80)
    buf[high] = ord("?")
    # a search of the bytes object is far cheaper than trimming every field
    trim = any(bytes([c]) in block for c in b" \t\r\v\f")
    fields = Fields(buf, separator, trim)
    return fields, np.isin(np.arange(len(fields)), np.searchsorted(fields.line_end, high))


class BadRow(Exception):
    """A bad field in row `index` of a block; the reader turns it into an InputError that also
    names the file and the row's number in the whole capture."""

    def __init__(self, field: str, index: int, text: str, line: int, expected: str,
                 fix: str) -> None:
        super().__init__(field)
        self.field, self.index, self.text, self.line = field, index, text, line
        self.expected, self.fix = expected, fix

    def error(self, source: str, rows_before: int) -> InputError:
        text = self.text if len(self.text) <= 120 else self.text[:117] + "..."
        return InputError(source, f"{self.field} (data row {rows_before + self.index + 1})",
                          f"{text!r} on line {self.line}", self.expected, fix=self.fix)


# how a bad row can be skipped instead, in a fix message (the detector has its own option)
SKIP_HINT = "set on_bad_rows: skip for this dataset"


class RowChecker:
    """Bad rows of a block: stop at the first bad field, or mark them with on_bad_rows=skip."""

    def __init__(self, fields: Fields, numbers: np.ndarray, on_bad_rows: str, layout: str,
                 skip_hint: str = SKIP_HINT) -> None:
        self.fields, self.numbers = fields, numbers
        self.on_bad_rows, self.layout, self.skip_hint = on_bad_rows, layout, skip_hint
        self.bad = np.zeros(len(fields), dtype=bool)

    def check(self, field: str, mask: np.ndarray, expected: str) -> None:
        if not mask.any():
            return
        if self.on_bad_rows == "skip":
            self.bad |= mask
            return
        self.fail(field, int(np.argmax(mask)), expected,
                  fix=f"repair the rows or {self.skip_hint} (read as layout {self.layout!r})")

    def fail(self, field: str, i: int, expected: str, fix: str) -> None:
        """Stop at row i of the block, quoting its line."""
        raise BadRow(field, i, self.fields.text(i), int(self.numbers[i]), expected, fix)
