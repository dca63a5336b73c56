"""Window graphs of every split, cached as one torch file per split plus a windows table."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch_geometric.data import Data

from distillery.can.features import FEATURE_NAMES
from distillery.can.graph import window_graph
from distillery.can.models.files import read_torch_file
from distillery.can.windows import NORMAL, WindowSpec, split_windows, window_label
from distillery.data.schemas import CAN_BYTES
from distillery.errors import InputError
from distillery.io import atomic_path

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
    table: pd.DataFrame, rows: np.ndarray, spec: WindowSpec, classes: list[str], split: str
) -> tuple[dict[str, Any], pd.DataFrame]:
    """Graphs of one split in collated form (tensors + pointers) and its windows table."""
    can_id = table["can_id"].to_numpy()
    timestamp = table["timestamp"].to_numpy()
    dlc = table["dlc"].to_numpy()
    payload = table[CAN_BYTES].to_numpy()
    labels = table["label"].astype(str).to_numpy()
    captures = table["capture"].to_numpy()
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
            "first_frame": int(frames[window[0]]), "last_frame": int(frames[window[-1]]),
            "t_start": float(timestamp[window[0]]), "t_end": float(timestamp[window[-1]]),
            "label": label, "attack_frac": float(np.mean(labels[window] != NORMAL)),
            "n_nodes": len(graph.x), "n_edges": graph.edge_index.shape[1],
        })
    windows = pd.DataFrame(meta, columns=[
        "split", "window", "capture", "first_frame", "last_frame", "t_start", "t_end", "label",
        "attack_frac", "n_nodes", "n_edges",
    ])
    n_features = len(FEATURE_NAMES)
    collated = {
        "x": torch.from_numpy(np.concatenate(xs) if xs else np.zeros((0, n_features), "f4")),
        "edge_index": torch.from_numpy(np.concatenate(edges, 1) if edges
                                       else np.zeros((2, 0), np.int64)),
        "edge_weight": torch.from_numpy(np.concatenate(weights) if weights
                                        else np.zeros(0, np.float32)),
        "node_ptr": torch.from_numpy(np.cumsum([0, *(len(x) for x in xs)])),
        "edge_ptr": torch.from_numpy(np.cumsum([0, *(e.shape[1] for e in edges)])),
        "y": torch.tensor(ys, dtype=torch.int64),
    }
    return collated, windows


def build_all(
    table: pd.DataFrame, splits: Mapping[str, np.ndarray], spec: WindowSpec, source: str
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
    train_x = graphs["train"]["x"].double()
    meta = {
        "classes": classes, "features": list(FEATURE_NAMES),
        "feature_mean": train_x.mean(0).tolist(),
        # constant features keep a unit scale instead of dividing by zero
        "feature_std": torch.where(train_x.std(0) > 1e-8, train_x.std(0), 1.0).tolist(),
        "windows": {"size": spec.size, "stride": spec.stride,
                    "label_threshold": spec.label_threshold},
    }
    return graphs, pd.concat(tables, ignore_index=True), meta


def save_graphs(path: str | Path, collated: Mapping[str, Any]) -> None:
    with atomic_path(path) as tmp:
        torch.save(dict(collated), tmp)


def load_graphs(path: str | Path) -> list[Data]:
    """The cached graphs of one split as PyG `Data` objects (edge weight as a 1-d edge attr)."""
    c = read_torch_file(path, "graphs written by the can_graphs rule",
                        fix="rerun the can_graphs rule")
    graphs = []
    for g in range(len(c["y"])):
        n0, n1 = int(c["node_ptr"][g]), int(c["node_ptr"][g + 1])
        e0, e1 = int(c["edge_ptr"][g]), int(c["edge_ptr"][g + 1])
        graphs.append(Data(x=c["x"][n0:n1], edge_index=c["edge_index"][:, e0:e1],
                           edge_attr=c["edge_weight"][e0:e1, None], y=c["y"][g : g + 1]))
    return graphs
