"""Window graphs of every split, cached as one NPZ file per split plus a windows table; and
graphs sharded to disk, read a shard at a time (`ShardedGraphs`), for captures whose graphs
do not fit in memory."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch.utils.data import IterableDataset, get_worker_info
from torch_geometric.data import Data

from distillery.array_files import load_arrays, save_arrays
from distillery.can.features import FEATURE_NAMES
from distillery.can.graph import GraphBatch, window_graph
from distillery.can.windows import NORMAL, WindowSettings, split_windows, window_label
from distillery.data.schemas import CAN_BYTES
from distillery.errors import InputError

SPLITS = ("train", "val", "test")


def class_names(labels: pd.Series) -> list[str]:
    """Class order used everywhere: normal first, then the attacks alphabetically."""
    return [NORMAL, *sorted(set(labels.astype(str)) - {NORMAL})]


def check_time_order(table: pd.DataFrame, source: str) -> None:
    """Inter-arrival features need frames in time order within each capture."""
    for capture, rows in table.groupby("capture", sort=False):
        steps = np.diff(rows["timestamp"].to_numpy())
        if (steps < 0).any():
            first = int(rows["frame"].to_numpy()[1:][steps < 0][0])
            raise InputError(source, f"timestamp (capture {capture}, frame {first})",
                             "a time earlier than the previous frame",
                             "frames in time order within each capture",
                             fix="sort the capture's rows by timestamp before ingest")


def build_split(
    table: pd.DataFrame, rows: np.ndarray, spec: WindowSettings, classes: list[str], split: str
) -> tuple[dict[str, Any], pd.DataFrame]:
    """Graphs of one split in collated form (arrays + pointers) and its windows table."""
    can_id = table["can_id"].to_numpy()
    timestamp = table["timestamp"].to_numpy()
    dlc = table["dlc"].to_numpy()
    payload = table[CAN_BYTES].to_numpy()
    labels = table["label"].astype(str).to_numpy()
    captures = table["capture"].to_numpy()
    vehicles = table["vehicle"].to_numpy()
    frames = table["frame"].to_numpy()
    xs, edges, weights, ys, meta = [], [], [], [], []
    for number, window in enumerate(split_windows(table, rows, spec)):
        graph = window_graph(can_id[window], timestamp[window], dlc[window], payload[window])
        label = window_label(labels[window], spec)
        xs.append(graph.x)
        edges.append(graph.edge_index)
        weights.append(graph.edge_weight)
        ys.append(classes.index(label))
        meta.append({
            "split": split, "window": number, "capture": captures[window[0]],
            "vehicle": vehicles[window[0]],
            "first_frame": int(frames[window[0]]), "last_frame": int(frames[window[-1]]),
            "t_start": float(timestamp[window[0]]), "t_end": float(timestamp[window[-1]]),
            "label": label, "attack_frac": float(np.mean(labels[window] != NORMAL)),
            "n_nodes": len(graph.x), "n_edges": graph.edge_index.shape[1],
        })
    windows = pd.DataFrame(meta, columns=[
        "split", "window", "capture", "vehicle", "first_frame", "last_frame", "t_start", "t_end",
        "label", "attack_frac", "n_nodes", "n_edges",
    ])
    n_features = len(FEATURE_NAMES)
    collated = {
        "x": np.concatenate(xs) if xs else np.zeros((0, n_features), np.float32),
        "edge_index": np.concatenate(edges, 1) if edges else np.zeros((2, 0), np.int64),
        "edge_weight": np.concatenate(weights) if weights else np.zeros(0, np.float32),
        "node_ptr": np.cumsum([0, *(len(x) for x in xs)]),
        "edge_ptr": np.cumsum([0, *(e.shape[1] for e in edges)]),
        "y": np.asarray(ys, dtype=np.int64),
    }
    return collated, windows


def build_all(
    table: pd.DataFrame, splits: Mapping[str, np.ndarray], spec: WindowSettings, source: str
) -> tuple[dict[str, dict[str, Any]], pd.DataFrame, dict[str, Any]]:
    """Graphs per split, the windows table of all splits and the metadata (classes, scaler)."""
    check_time_order(table, source)
    classes = class_names(table["label"])
    graphs, tables = {}, []
    for split in SPLITS:
        graphs[split], windows = build_split(table, splits[split], spec, classes, split)
        tables.append(windows)
        if len(windows) == 0:
            raise InputError(source, f"{split} split", "no full window",
                             f"runs of at least {spec.size} consecutive frames",
                             fix="lower windows.size or use fewer, longer split blocks")
    train_x = torch.from_numpy(graphs["train"]["x"]).double()
    meta = {
        "classes": classes, "features": list(FEATURE_NAMES),
        "feature_mean": train_x.mean(0).tolist(),
        # constant features keep a unit scale instead of dividing by zero
        "feature_std": torch.where(train_x.std(0) > 1e-8, train_x.std(0), 1.0).tolist(),
        "windows": {"size": spec.size, "stride": spec.stride,
                    "label_threshold": spec.label_threshold},
    }
    return graphs, pd.concat(tables, ignore_index=True), meta


GRAPH_ARRAYS = {"x": ("f", 2), "edge_index": ("i", 2), "edge_weight": ("f", 1),
                "node_ptr": ("i", 1), "edge_ptr": ("i", 1), "y": ("i", 1)}


def save_graphs(path: str | Path, collated: Mapping[str, np.ndarray]) -> None:
    save_arrays(path, {key: collated[key] for key in GRAPH_ARRAYS})


def _check_graphs(c: Mapping[str, np.ndarray], path: str | Path, expected: str, fix: str
                  ) -> None:
    """Kinds, ranks and pointers consistent, edges inside their own graph: a damaged file
    stops here rather than deep inside PyTorch Geometric."""
    def bad(field: str, found: str) -> InputError:
        return InputError(path, field, found, expected, fix=fix)

    for key, (kind, ndim) in GRAPH_ARRAYS.items():
        if key not in c:
            raise bad(key, "no such array")
        if c[key].dtype.kind not in ("iu" if kind == "i" else "f") or c[key].ndim != ndim:
            raise bad(key, f"a {c[key].ndim}-d {c[key].dtype} array")
    n_graphs = len(c["y"])
    for ptr, size in (("node_ptr", len(c["x"])), ("edge_ptr", c["edge_index"].shape[1])):
        p = c[ptr]
        if len(p) != n_graphs + 1 or p[0] != 0 or p[-1] != size or np.any(np.diff(p) < 0):
            raise bad(ptr, f"offsets that do not split {size} rows into {n_graphs} graphs")
    if len(c["edge_index"]) != 2 or len(c["edge_weight"]) != c["edge_index"].shape[1]:
        raise bad("edge_index", f"shape {c['edge_index'].shape} with "
                  f"{len(c['edge_weight'])} edge weights")
    nodes_per_edge = np.repeat(np.diff(c["node_ptr"]), np.diff(c["edge_ptr"]))
    if np.any((c["edge_index"] < 0) | (c["edge_index"] >= nodes_per_edge)):
        raise bad("edge_index", "node indices outside their graph")


def load_graphs(path: str | Path) -> list[Data]:
    """The cached graphs of one split as PyG `Data` objects (edge weight as a 1-d edge attr)."""
    expected, fix = "graphs written by the can_graphs rule", "rerun the can_graphs rule"
    c = load_arrays(path, expected, fix)
    _check_graphs(c, path, expected, fix)
    x, edge_index = torch.from_numpy(c["x"]), torch.from_numpy(c["edge_index"].astype(np.int64))
    edge_attr = torch.from_numpy(c["edge_weight"])[:, None]
    y = torch.from_numpy(c["y"].astype(np.int64))
    graphs = []
    for g in range(len(y)):
        n0, n1 = int(c["node_ptr"][g]), int(c["node_ptr"][g + 1])
        e0, e1 = int(c["edge_ptr"][g]), int(c["edge_ptr"][g + 1])
        graphs.append(Data(x=x[n0:n1], edge_index=edge_index[:, e0:e1],
                           edge_attr=edge_attr[e0:e1], y=y[g : g + 1]))
    return graphs


def collated(graphs: GraphBatch, y: np.ndarray) -> dict[str, np.ndarray]:
    """A batch of window graphs (`window_graphs`) with their labels in the collated form of
    `save_graphs`."""
    return {"x": graphs.x, "edge_index": graphs.edge_index, "edge_weight": graphs.edge_weight,
            "node_ptr": graphs.node_ptr, "edge_ptr": graphs.edge_ptr,
            "y": np.asarray(y, dtype=np.int64)}


class ShardedGraphs(IterableDataset):
    """Window graphs kept on disk as shards (files of `save_graphs`), read one shard at a time:
    a capture too large for its graphs to fit in memory trains from these. Each pass visits
    every graph once, shards in a random order and graphs shuffled within their shard (seeded
    by `seed` and the pass number), so memory holds one shard's graphs; with `shuffle=False`
    shards and graphs come in the order given. Under several DataLoader workers each reads
    its own share of the shards."""

    def __init__(self, shards: Sequence[str | Path], seed: int = 0, shuffle: bool = True,
                 sizes: Sequence[int] | None = None) -> None:
        super().__init__()
        self.shards, self.seed, self.shuffle = [Path(s) for s in shards], seed, shuffle
        self.sizes = None if sizes is None else list(sizes)
        self.passes = 0

    def __len__(self) -> int:
        if self.sizes is None:
            raise TypeError("ShardedGraphs without `sizes` has no length")
        return sum(self.sizes)

    def __iter__(self) -> Iterator[Data]:
        rng = np.random.default_rng([self.seed, self.passes])
        self.passes += 1
        order = rng.permutation(len(self.shards)) if self.shuffle else np.arange(len(self.shards))
        info = get_worker_info()
        if info is not None:
            order = order[info.id::info.num_workers]
        for shard in order:
            graphs = load_graphs(self.shards[shard])
            within = rng.permutation(len(graphs)) if self.shuffle else range(len(graphs))
            for g in within:
                yield graphs[g]
