"""Sliding windows over CAN frames that never cross a capture or a split boundary."""

from __future__ import annotations

import numpy as np
import pandas as pd

from distillery.can.settings import WindowSettings
from distillery.data.can import NORMAL


def contiguous_runs(captures: np.ndarray, rows: np.ndarray) -> list[np.ndarray]:
    """Split sorted row indices into runs of consecutive rows of a single capture.

    `captures` holds the capture of every row of the table; `rows` are one split's indices.
    A window built inside one run therefore never spans two captures or two splits.
    """
    rows = np.sort(np.asarray(rows, dtype=np.int64))
    if rows.size == 0:
        return []
    capture_of = captures[rows]
    breaks = (np.diff(rows) != 1) | (capture_of[1:] != capture_of[:-1])
    return np.split(rows, np.flatnonzero(breaks) + 1)


def window_rows(run: np.ndarray, spec: WindowSettings) -> list[np.ndarray]:
    """Row indices of each full window inside one run (a run shorter than a window gives none)."""
    starts = range(0, len(run) - spec.size + 1, spec.stride)
    return [run[s : s + spec.size] for s in starts]


def window_label(labels: np.ndarray, spec: WindowSettings) -> str:
    """The most frequent attack in the window when its share reaches the threshold, else normal."""
    attacks = labels[labels != NORMAL]
    if attacks.size == 0:
        return NORMAL
    names, counts = np.unique(attacks, return_counts=True)
    if counts.sum() / labels.size < spec.label_threshold:
        return NORMAL
    return str(names[np.argmax(counts)])


def split_windows(table: pd.DataFrame, rows: np.ndarray, spec: WindowSettings) -> list[np.ndarray]:
    """All windows (row indices into `table`) of one split, in table order."""
    captures = table["capture"].to_numpy()
    return [w for run in contiguous_runs(captures, rows) for w in window_rows(run, spec)]
