"""Windows over a live stream of CAN frames, built as frames arrive, exactly as in training.

Window k of a stream covers its frames k * stride .. k * stride + size - 1, as
`distillery.can.windows.window_rows` numbers the windows of one capture; every window a
block of frames completes is built in one vectorised pass (`window_graphs`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from distillery.can.graph import GraphBatch, window_graphs
from distillery.data.can_layouts import Frames

_FIELDS = ("can_id", "timestamp", "dlc", "data")


@dataclass(frozen=True)
class Windows:
    """Windows completed by one block: their numbers in the stream, the time of their last
    frame (when each could first be scored) and their graphs; `rows` (n_windows, size) are
    their frames' rows in `columns` (can_id, timestamp, dlc, data: the frames the stream
    held), for scorers that read the frames themselves."""

    numbers: np.ndarray
    t_end: np.ndarray
    graphs: GraphBatch
    rows: np.ndarray
    columns: dict[str, np.ndarray]


class WindowStream:
    """Keeps the frames that windows still to come need, and builds windows as they fill."""

    def __init__(self, size: int, stride: int) -> None:
        self.size, self.stride = size, stride
        self.frames = 0  # frames seen so far
        self.next_window = 0
        self._first = 0  # stream position of the first kept frame
        self._kept: dict[str, np.ndarray] | None = None

    def push(self, frames: Frames) -> Windows | None:
        """Add a block of frames (in time order); the windows it completes, if any."""
        block = {name: getattr(frames, name) for name in _FIELDS}
        kept = block if self._kept is None else {
            name: np.concatenate([self._kept[name], block[name]]) for name in _FIELDS}
        self.frames += len(frames)
        done = max(0, (self.frames - self.size) // self.stride + 1)  # windows complete so far
        numbers = np.arange(self.next_window, done)
        windows = None
        if len(numbers):
            rows = (numbers * self.stride - self._first)[:, None] + np.arange(self.size)
            graphs = window_graphs(kept["can_id"], kept["timestamp"], kept["dlc"], kept["data"],
                                   rows)
            windows = Windows(numbers, kept["timestamp"][rows[:, -1]], graphs, rows, kept)
            self.next_window = done
        # drop what no later window reads
        drop = max(0, self.next_window * self.stride - self._first)
        drop = min(drop, len(kept["can_id"]))
        self._kept = {name: values[drop:] for name, values in kept.items()}
        self._first += drop
        return windows
