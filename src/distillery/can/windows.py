"""Sliding windows over CAN frames that never cross a capture or a split boundary."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from distillery.data.can import NORMAL
from distillery.errors import ConfigError


@dataclass(frozen=True)
class WindowSpec:
    """`size` frames per window, a new window every `stride` frames; a window is labelled with
    its attack when at least `label_threshold` of its frames are attack frames, else normal."""

    size: int = 100
    stride: int = 50
    label_threshold: float = 0.05

    def __post_init__(self) -> None:
        if self.size < 2:
            raise ConfigError(f"windows.size: found {self.size}, expected an integer >= 2")
        if self.stride < 1:
            raise ConfigError(f"windows.stride: found {self.stride}, expected an integer >= 1")
        if not 0.0 < self.label_threshold <= 1.0:
            raise ConfigError(
                f"windows.label_threshold: found {self.label_threshold}, expected 0 < t <= 1"
            )


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


def window_rows(run: np.ndarray, spec: WindowSpec) -> list[np.ndarray]:
    """Row indices of each full window inside one run (a run shorter than a window gives none)."""
    starts = range(0, len(run) - spec.size + 1, spec.stride)
    return [run[s : s + spec.size] for s in starts]


def window_label(labels: np.ndarray, spec: WindowSpec) -> str:
    """The most frequent attack in the window when its share reaches the threshold, else normal."""
    attacks = labels[labels != NORMAL]
    if attacks.size == 0:
        return NORMAL
    names, counts = np.unique(attacks, return_counts=True)
    if counts.sum() / labels.size < spec.label_threshold:
        return NORMAL
    return str(names[np.argmax(counts)])


def split_windows(table: pd.DataFrame, rows: np.ndarray, spec: WindowSpec) -> list[np.ndarray]:
    """All windows (row indices into `table`) of one split, in table order."""
    captures = table["capture"].to_numpy()
    return [w for run in contiguous_runs(captures, rows) for w in window_rows(run, spec)]
