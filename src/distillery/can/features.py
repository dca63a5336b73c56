"""Per-CAN-ID node features of one window: rate, timing and payload statistics.

Timing features are log-scaled because inter-arrival times span four orders of magnitude
(a flooded ID every millisecond, a slow ID every 100 ms).
"""

from __future__ import annotations

import numpy as np

MAX_STANDARD_ID = 0x7FF
FEATURE_NAMES = (
    "count_frac", "log_gap_mean_ms", "log_gap_std_ms", "dlc_frac", "id_frac",
    *(f"b{i}_mean" for i in range(8)), *(f"b{i}_std" for i in range(8)),
)


def _group_mean_std(values: np.ndarray, groups: np.ndarray, n: int) -> tuple[np.ndarray, ...]:
    counts = np.bincount(groups, minlength=n).astype(np.float64)
    safe = np.maximum(counts, 1.0)
    if values.ndim == 1:
        values = values[:, None]
    sums = np.stack([np.bincount(groups, values[:, j], n) for j in range(values.shape[1])], 1)
    squares = np.stack([np.bincount(groups, values[:, j] ** 2, n)
                        for j in range(values.shape[1])], 1)
    mean = sums / safe[:, None]
    std = np.sqrt(np.maximum(squares / safe[:, None] - mean**2, 0.0))
    return mean, std, counts


def node_features(
    node: np.ndarray, node_window: np.ndarray, can_ids: np.ndarray, timestamp: np.ndarray,
    dlc: np.ndarray, payload: np.ndarray, size: int,
) -> np.ndarray:
    """Features (n_nodes, len(FEATURE_NAMES)) float32 of the nodes of one or more windows.

    Frames come window after window, `size` per window, in time order within each; `node[i]`
    is the node of frame i, numbered across all windows so that a window's nodes are
    consecutive, and `node_window`/`can_ids` give every node's window and ID. Every node's
    statistics are sums over its own frames in frame order, so a window gets the same features
    alone or in a batch. Gaps are the times between consecutive frames of the same ID within
    the window; an ID seen once gets the window's time span as its mean gap and 0 as its
    spread. Bytes are scaled to [0, 1] (bytes beyond the DLC are 0).
    """
    n_nodes = len(can_ids)
    order = np.argsort(node, kind="stable")
    sorted_node, sorted_time = node[order], timestamp[order]
    same = sorted_node[1:] == sorted_node[:-1]
    gaps_ms = np.diff(sorted_time)[same] * 1e3
    gap_mean, gap_std, n_gaps = _group_mean_std(gaps_ms, sorted_node[1:][same], n_nodes)
    stamps = timestamp.reshape(-1, size)
    span_ms = ((stamps[:, -1] - stamps[:, 0]) * 1e3)[node_window]
    seen_once = n_gaps == 0
    gap_mean[seen_once, 0] = span_ms[seen_once]
    gap_std[seen_once, 0] = 0.0

    byte_mean, byte_std, counts = _group_mean_std(payload / 255.0, node, n_nodes)
    dlc_mean, _, _ = _group_mean_std(dlc.astype(np.float64) / 8.0, node, n_nodes)
    id_frac = np.minimum(can_ids, MAX_STANDARD_ID) / MAX_STANDARD_ID
    columns = [
        (counts / size)[:, None], np.log1p(np.maximum(gap_mean, 0.0)), np.log1p(gap_std),
        dlc_mean, id_frac[:, None].astype(np.float64), byte_mean, byte_std,
    ]
    return np.concatenate(columns, axis=1).astype(np.float32)
