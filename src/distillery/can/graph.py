"""One window of CAN frames -> a graph: nodes are the IDs seen, edges the ID transitions."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from distillery.can.features import node_features


@dataclass(frozen=True)
class WindowGraph:
    """`can_ids` (n,) sorted node IDs; `x` (n, F) node features; `edge_index` (2, E) directed
    transitions source -> target between consecutive frames (self-loops when an ID repeats);
    `edge_weight` (E,) share of the window's transitions taken by each edge."""

    can_ids: np.ndarray
    x: np.ndarray
    edge_index: np.ndarray
    edge_weight: np.ndarray


def window_graph(
    can_id: np.ndarray, timestamp: np.ndarray, dlc: np.ndarray, payload: np.ndarray
) -> WindowGraph:
    """Build the graph of frames given in time order (payload is (n_frames, 8) bytes)."""
    ids, node = np.unique(can_id, return_inverse=True)
    n = len(ids)
    transitions = node[:-1].astype(np.int64) * n + node[1:]
    codes, counts = np.unique(transitions, return_counts=True)
    edge_index = np.stack([codes // n, codes % n]).astype(np.int64)
    edge_weight = (counts / max(len(transitions), 1)).astype(np.float32)
    x = node_features(node, n, ids, timestamp, dlc, payload.astype(np.float64))
    return WindowGraph(ids.astype(np.int64), x, edge_index, edge_weight)
