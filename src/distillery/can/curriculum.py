"""Curriculum learning for the CAN classifiers: how hard each training window is, and which
windows each epoch trains on (the easiest fraction of every class, growing to all of them)."""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from torch_geometric.data import Data

from distillery.can.settings import CurriculumSettings
from distillery.errors import InputError, reason


def pacing_fraction(settings: CurriculumSettings, epoch: int) -> float:
    """The share of each class's training windows that epoch `epoch` (from 1) trains on:
    `start_fraction` at epoch 1, 1 from epoch `epochs_to_full` on."""
    start, full = settings.start_fraction, settings.epochs_to_full
    progress = 1.0 if full <= 1 else min(max(epoch - 1, 0) / (full - 1), 1.0)
    if settings.pacing == "linear":
        return start + (1.0 - start) * progress
    return math.sqrt(start**2 + (1.0 - start**2) * progress)  # root


def label_margin(attack_frac: np.ndarray, labels: np.ndarray, threshold: float) -> np.ndarray:
    """Difficulty in [0, 1] from a window's share of attack frames: how close it lies to the
    labelling threshold, relative to the room its class has on that side (class 0 is normal,
    below the threshold; attacks at or above it). 0: pure normal or pure attack traffic."""
    frac = np.asarray(attack_frac, dtype=np.float64)
    normal = np.asarray(labels) == 0
    # with threshold 1 every attack window is all attack frames: margin 0 there
    attack_room = max(1.0 - threshold, np.finfo(float).tiny)
    return np.where(normal, frac / threshold, (1.0 - frac) / attack_room).clip(0.0, 1.0)


def teacher_loss(teacher_logits: torch.Tensor, labels: np.ndarray) -> np.ndarray:
    """Difficulty as the teacher's cross entropy on each window's label (low: the teacher is
    confident and right)."""
    target = torch.as_tensor(np.asarray(labels), dtype=torch.long)
    return F.cross_entropy(teacher_logits.float(), target, reduction="none").numpy()


def train_attack_fractions(windows_path: str | Path, graphs: list[Data], classes: list[str],
                           held_out: Sequence[str]) -> np.ndarray:
    """The share of attack frames of each training graph, read from the windows table
    (`can_graphs` writes both in the same window order; held-out attacks are dropped from both)."""
    expected = "the windows table written by can_graphs beside the training graphs"
    try:
        table = pd.read_parquet(windows_path, columns=["split", "window", "label", "attack_frac"])
    except (OSError, ValueError) as exc:
        raise InputError(windows_path, "file", f"an unreadable table ({reason(exc)})", expected,
                         fix="rerun the can_graphs rule") from None
    rows = table[table["split"] == "train"].sort_values("window")
    rows = rows[~rows["label"].isin(list(held_out))]
    labels = [classes[int(g.y)] for g in graphs]
    if len(rows) != len(graphs) or list(rows["label"]) != labels:
        raise InputError(windows_path, "train windows",
                         f"{len(rows)} rows whose labels do not follow the {len(graphs)} "
                         "training graphs", expected, fix="rerun the can_graphs rule")
    return rows["attack_frac"].to_numpy()


class Curriculum:
    """Which training windows epoch e trains on: per class, the `pacing_fraction(e)` easiest
    by `difficulty` (at least one), ties broken by a permutation drawn from `seed`; given in
    index order, so the loop's seeded shuffle alone decides the batches."""

    def __init__(self, settings: CurriculumSettings, difficulty: np.ndarray,
                 labels: np.ndarray, seed: int) -> None:
        difficulty, labels = np.asarray(difficulty, dtype=np.float64), np.asarray(labels)
        if difficulty.shape != labels.shape:
            raise ValueError(f"difficulty of shape {difficulty.shape} for labels of shape "
                             f"{labels.shape}")
        self.settings = settings
        tie_break = np.random.default_rng(seed).permutation(len(labels))
        easiest_first = np.lexsort((tie_break, difficulty))
        self.by_class = [easiest_first[labels[easiest_first] == c]
                         for c in np.unique(labels)]
        # what a checkpoint must match to be resumed: the settings and the resulting order
        self.key = [settings.as_dict(),
                    hashlib.sha256(easiest_first.tobytes()).hexdigest()[:16]]

    def __call__(self, epoch: int) -> np.ndarray:
        share = pacing_fraction(self.settings, epoch)
        # the rounding tolerance keeps e.g. 0.3 * 10 from becoming 4 windows
        take = [order[:max(1, math.ceil(share * len(order) - 1e-9))] for order in self.by_class]
        return np.sort(np.concatenate(take))


def model_curriculum(settings: CurriculumSettings, train_set: list[Data], classes: list[str],
                     *, distilled: bool, held_out: Sequence[str], seed: int,
                     windows_path: str | Path | None = None, label_threshold: float = 0.0,
                     ) -> Curriculum:
    """The curriculum of one classifier over its training graphs (after held-out attacks are
    dropped): by the teacher's loss on the `teacher` logits the graphs of a KD student carry,
    or by the label margin of their windows (`windows_path`, at `label_threshold`)."""
    labels = np.array([int(g.y) for g in train_set])
    if settings.measure(distilled) == "teacher_loss":
        difficulty = teacher_loss(torch.cat([g.teacher for g in train_set]), labels)
    elif windows_path is None:
        raise ValueError("the label_margin difficulty needs the windows table")
    else:
        fractions = train_attack_fractions(windows_path, train_set, classes, held_out)
        difficulty = label_margin(fractions, labels, label_threshold)
    return Curriculum(settings, difficulty, labels, seed)
