"""Windows of CAN frames -> graphs: nodes are the IDs seen, edges the ID transitions.

`window_graphs` builds many windows at once with one set of array operations (the live
detector builds every window a block of frames completes); `window_graph` is the same for one
window, so training and detection share the construction exactly.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from distillery.can.features import node_features

# above every 29-bit CAN ID: (window, ID) pairs packed into one sortable integer
_ID_SPAN = 1 << 29


@dataclass(frozen=True)
class WindowGraph:
    """`can_ids` (n,) sorted node IDs; `x` (n, F) node features; `edge_index` (2, E) directed
    transitions source -> target between consecutive frames (self-loops when an ID repeats);
    `edge_weight` (E,) share of the window's transitions taken by each edge."""

    can_ids: np.ndarray
    x: np.ndarray
    edge_index: np.ndarray
    edge_weight: np.ndarray


@dataclass(frozen=True)
class GraphBatch:
    """Window graphs in collated form: graph g has the node rows node_ptr[g]:node_ptr[g + 1]
    of `can_ids` and `x`, and the edge columns edge_ptr[g]:edge_ptr[g + 1] of `edge_index`
    (node numbers within its own graph) and `edge_weight`."""

    can_ids: np.ndarray
    x: np.ndarray
    edge_index: np.ndarray
    edge_weight: np.ndarray
    node_ptr: np.ndarray
    edge_ptr: np.ndarray

    def __len__(self) -> int:
        return len(self.node_ptr) - 1

    def graph(self, g: int) -> WindowGraph:
        n0, n1 = self.node_ptr[g], self.node_ptr[g + 1]
        e0, e1 = self.edge_ptr[g], self.edge_ptr[g + 1]
        return WindowGraph(self.can_ids[n0:n1], self.x[n0:n1], self.edge_index[:, e0:e1],
                           self.edge_weight[e0:e1])


def window_graphs(
    can_id: np.ndarray, timestamp: np.ndarray, dlc: np.ndarray, payload: np.ndarray,
    windows: np.ndarray,
) -> GraphBatch:
    """The graphs of `windows` (n_windows, size) rows into the frame arrays, each window's rows
    in time order (payload is (n_frames, 8) bytes)."""
    n_windows, size = windows.shape
    rows = windows.ravel()
    window = np.repeat(np.arange(n_windows, dtype=np.int64), size)
    keys, node = np.unique(window * _ID_SPAN + can_id[rows], return_inverse=True)
    node = node.reshape(-1)
    node_window, node_ids = keys // _ID_SPAN, keys % _ID_SPAN
    node_ptr = np.searchsorted(node_window, np.arange(n_windows + 1))
    n = len(keys)
    # a window's nodes are consecutive and sorted by ID: codes sort as (source, target) pairs
    steps = node.reshape(n_windows, size)
    codes, counts = np.unique(steps[:, :-1] * n + steps[:, 1:], return_counts=True)
    source, target = codes // n, codes % n
    first = node_ptr[node_window[source]]
    edge_ptr = np.searchsorted(node_window[source], np.arange(n_windows + 1))
    x = node_features(node, node_window, node_ids, timestamp[rows], dlc[rows],
                      payload[rows].astype(np.float64), size)
    return GraphBatch(node_ids.astype(np.int64), x,
                      np.stack([source - first, target - first]).astype(np.int64),
                      (counts / max(size - 1, 1)).astype(np.float32), node_ptr, edge_ptr)


def window_graph(
    can_id: np.ndarray, timestamp: np.ndarray, dlc: np.ndarray, payload: np.ndarray
) -> WindowGraph:
    """The graph of frames given in time order (payload is (n_frames, 8) bytes)."""
    return window_graphs(can_id, timestamp, dlc, payload, np.arange(len(can_id))[None]).graph(0)
