"""Operating points at low false-positive rates, measured on a long attack-free capture.

A per-window false-positive rate of 1e-4 needs tens of thousands of normal windows to be seen
at all; a dataset's normal validation windows are a few hundred. So a long attack-free capture
of a vehicle trained on is streamed through the detectors, a block of frames at a time
(`WindowStream`: only the window graphs of one block exist at once, and only one score per
window and detector is kept), and:

- thresholds at each false-positive rate come from the capture's first `calibration` share of
  windows (held apart: none of the later windows shares a frame with them);
- on the windows after it, the measured false-positive rate (alarms / windows), its exact
  one-sided 95 % upper bound, and false alarms per hour (alarms / hours of traffic from the
  capture's timestamps);
- at each threshold, the detection rate of the attack test windows of the dataset.

The thresholds of the record (`ids.fprs` on the normal validation windows) are measured on the
same windows, to show what they give on long traffic.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import torch
from scipy.stats import beta
from torch import nn
from torch_geometric.data import Data

from distillery.can.fusion import FittedFusion
from distillery.can.graph import GraphBatch
from distillery.can.ids import thresholds
from distillery.can.payload import Frames as PayloadFrames
from distillery.can.payload import PayloadModel
from distillery.can.scores import anomaly_scores
from distillery.can.settings import PAYLOAD
from distillery.can.stream import Windows, WindowStream
from distillery.data.can_layouts import NORMAL, Frames
from distillery.errors import InputError

SECONDS_PER_HOUR = 3600.0


def batch_data(graphs: GraphBatch) -> list[Data]:
    """The graphs of a batch as PyG `Data`, as `load_graphs` gives cached graphs."""
    out = []
    for g in range(len(graphs)):
        graph = graphs.graph(g)
        out.append(Data(x=torch.from_numpy(graph.x),
                        edge_index=torch.from_numpy(graph.edge_index),
                        edge_attr=torch.from_numpy(graph.edge_weight)[:, None]))
    return out


def payload_frames(windows: Windows) -> PayloadFrames:
    """The frame columns the payload model reads, of the frames a block's windows index."""
    columns = windows.columns
    channels = np.concatenate([columns["data"].astype(np.int64),
                               columns["dlc"].astype(np.int64)[:, None]], 1)
    return PayloadFrames(columns["can_id"].astype(np.int64), channels)


@dataclass(frozen=True)
class StreamScores:
    """One score per window and detector of a streamed capture, the first and last frame
    time of every window, and the number of frames."""

    scores: dict[str, np.ndarray]
    t_start: np.ndarray
    t_end: np.ndarray
    frames: int

    def __len__(self) -> int:
        return len(self.t_end)


def stream_scores(blocks: Iterable[Frames], size: int, stride: int,
                  models: Mapping[str, nn.Module], batch_size: int, device: torch.device,
                  payload: PayloadModel | None = None, fusion: FittedFusion | None = None,
                  source: str = "capture") -> StreamScores:
    """Scores of every window of a capture given block by block (in time order), windows of
    `size` frames every `stride` frames as `can_graphs` builds them inside one run: the
    classifiers and VGAEs of `models`, the `payload` model (named `payload`) and the
    `fusion`s of their scores. Only one block's window graphs are held at a time. A frame
    labelled as an attack stops it: the capture must be attack-free."""
    stream = WindowStream(size, stride)
    parts: dict[str, list[np.ndarray]] = {name: [] for name in models}
    if payload is not None:
        parts[PAYLOAD] = []
    starts, ends = [], []
    for frames in blocks:
        attack = np.asarray(frames.classes)[frames.label] != NORMAL
        if attack.any():
            raise InputError(source, "label", f"{int(attack.sum())} attack frames in a block",
                             "an attack-free capture",
                             fix="give a capture of normal traffic only")
        windows = stream.push(frames)
        if windows is None:
            continue
        graphs = batch_data(windows.graphs)
        for name, model in models.items():
            parts[name].append(anomaly_scores(model, graphs, batch_size, device))
        if payload is not None:
            parts[PAYLOAD].append(payload.score(payload_frames(windows), windows.rows))
        starts.append(windows.columns["timestamp"][windows.rows[:, 0]])
        ends.append(windows.t_end)
    if not ends:
        raise InputError(source, "file", f"{stream.frames} frames", f"at least {size} frames "
                         "(one window)")
    scores = {name: np.concatenate(p) for name, p in parts.items()}
    if fusion is not None:
        scores.update(fusion(scores))
    return StreamScores(scores, np.concatenate(starts), np.concatenate(ends), stream.frames)


def fpr_upper_bound(alarms: int, n: int, confidence: float = 0.95) -> float:
    """Exact (Clopper-Pearson) one-sided upper bound of a rate seen `alarms` times in `n`."""
    if alarms >= n:
        return 1.0
    return float(beta.ppf(confidence, alarms + 1, n - alarms))


def held_apart(t_start: np.ndarray, t_end: np.ndarray, calibration: float
               ) -> tuple[np.ndarray, np.ndarray]:
    """Masks of the calibration windows (the first `calibration` share) and of the evaluation
    windows: those that start after the last calibration window ends (no shared frame)."""
    n_cal = max(1, int(round(calibration * len(t_end))))
    cal = np.arange(len(t_end)) < n_cal
    evaluation = t_start > t_end[n_cal - 1]
    if not evaluation.any():
        raise ValueError(f"{len(t_end)} windows: none left after the calibration share "
                         f"{calibration}")
    return cal, evaluation


def false_alarms(scores: np.ndarray, cut: float, hours: float) -> dict[str, Any]:
    """Alarms (score > cut) among normal windows: count, rate, its upper bound, per hour."""
    alarms = int((scores > cut).sum())
    return {"false_alarms": alarms, "fpr": alarms / len(scores),
            "fpr_upper95": fpr_upper_bound(alarms, len(scores)),
            "false_alarms_per_hour": alarms / hours}


def operating_points(stream: StreamScores, fprs: Sequence[float], calibration: float,
                     val: Mapping[str, np.ndarray], test: Mapping[str, np.ndarray],
                     test_labels: np.ndarray, classes: Sequence[str]) -> dict[str, Any]:
    """Per detector (every score of `stream`): thresholds at `fprs` on the calibration
    windows, and at each: the false alarms on the evaluation windows (`false_alarms`), the
    detection rate of the attack windows of `test` (its scores, labels `test_labels` indexing
    `classes`, 0 normal) overall and per attack; the same for the thresholds at `fprs` on the
    normal validation windows (`val`: their scores), under `validation_thresholds`."""
    cal, evaluation = held_apart(stream.t_start, stream.t_end, calibration)
    hours = (stream.t_end[evaluation][-1] - stream.t_start[evaluation][0]) / SECONDS_PER_HOUR
    attack = test_labels > 0
    present = [(i, c) for i, c in enumerate(classes) if i > 0 and (test_labels == i).any()]

    def at(scores: np.ndarray, cuts: Mapping[float, float], name: str) -> dict[str, Any]:
        out = {}
        for f, cut in cuts.items():
            out[str(f)] = {"threshold": cut,
                           **false_alarms(scores[evaluation], cut, hours),
                           "detection_rate": float((test[name][attack] > cut).mean())
                           if attack.any() else None,
                           "detection": {c: float((test[name][test_labels == i] > cut).mean())
                                         for i, c in present}}
        return out

    models = {}
    for name, scores in stream.scores.items():
        models[name] = {"capture_thresholds": at(scores, thresholds(scores[cal], fprs), name),
                        "validation_thresholds": at(scores, thresholds(val[name], fprs), name)}
    span = (stream.t_end[-1] - stream.t_start[0]) / SECONDS_PER_HOUR
    return {"fprs": list(fprs), "calibration": calibration, "frames": stream.frames,
            "windows": len(stream), "hours": span,
            "calibration_windows": int(cal.sum()),
            "evaluation_windows": int(evaluation.sum()), "evaluation_hours": hours,
            "test_attack_windows": int(attack.sum()), "models": models}


def operating_table(figures: Mapping[str, Any]) -> pd.DataFrame:
    """One row per detector, source of the thresholds and false-positive rate."""
    rows = []
    for model, by_source in figures["models"].items():
        for source, points in by_source.items():
            for fpr, p in points.items():
                rows.append({"model": model, "thresholds": source.removesuffix("_thresholds"),
                             "target_fpr": float(fpr), "threshold": p["threshold"],
                             "detection_rate": p["detection_rate"], "fpr": p["fpr"],
                             "fpr_upper95": p["fpr_upper95"], "false_alarms": p["false_alarms"],
                             "false_alarms_per_hour": p["false_alarms_per_hour"]})
    return pd.DataFrame(rows)
