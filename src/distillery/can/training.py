"""Train one classifier of the CAN track: class weights, hard or distilled loss, the loop."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch_geometric.data import Batch, Data

from distillery.can.curriculum import Curriculum
from distillery.can.kd import kd_loss
from distillery.can.metrics import classification_metrics
from distillery.can.models.build import build_classifier
from distillery.can.models.vgae import GraphVGAE
from distillery.can.scores import anomaly_scores
from distillery.can.settings import GATSettings, KDSettings, MLPSettings, VGAESettings
from distillery.errors import ConfigError, InputError, reason
from distillery.train.settings import TorchTrainSettings, run_seed
from distillery.train.torch_loop import LossFn, TrainResult, train_classifier

WEIGHTINGS = ("balanced", "none")
SCORE_EPS = 1e-6  # anomaly scores are positive; this keeps their log finite


def without_classes(graphs: list[Data], classes: list[str], dropped: tuple[str, ...] | list[str],
                    ) -> list[Data]:
    """The graphs whose class is not among `dropped` (held-out attacks, or every attack for
    the VGAE); a name that is not a class of the data is a ConfigError."""
    unknown = sorted(set(dropped) - set(classes))
    if unknown:
        raise ConfigError(f"classifier.held_out: found {unknown}, expected classes of the "
                          f"data: {classes}")
    drop = {classes.index(name) for name in dropped}
    return [g for g in graphs if int(g.y) not in drop]


def class_weights(labels: np.ndarray, n_classes: int, mode: str) -> torch.Tensor | None:
    """`balanced`: n / (k * count_c) over the k classes present (absent classes get 1);
    `none`: no weights."""
    if mode not in WEIGHTINGS:
        raise ConfigError(f"classifier.train.class_weighting: found {mode!r}, "
                          f"expected one of {list(WEIGHTINGS)}")
    if mode == "none":
        return None
    counts = np.bincount(labels, minlength=n_classes).astype(np.float64)
    present = counts > 0
    weights = np.ones(n_classes)
    weights[present] = len(labels) / (present.sum() * counts[present])
    return torch.tensor(weights, dtype=torch.float32)


def make_loss(class_weight: torch.Tensor | None, kd: KDSettings | None) -> LossFn:
    """Hard-label cross entropy, or the KD loss against `batch.teacher` logits."""
    def hard(logits: torch.Tensor, batch: Batch) -> torch.Tensor:
        weight = None if class_weight is None else class_weight.to(logits.device)
        return F.cross_entropy(logits, batch.y, weight=weight)

    def distilled(logits: torch.Tensor, batch: Batch) -> torch.Tensor:
        weight = None if class_weight is None else class_weight.to(logits.device)
        return kd_loss(logits, batch.teacher, batch.y, kd.temperature, kd.alpha, weight)

    return hard if kd is None else distilled


def with_teacher(graphs: list[Data], logits: torch.Tensor) -> list[Data]:
    """Copies of the graphs carrying their teacher logits (batched to (B, n_classes))."""
    out = []
    for graph, row in zip(graphs, logits, strict=True):
        graph = graph.clone()
        graph.teacher = row[None].float()
        out.append(graph)
    return out


def fingerprint(*parts: Any) -> str:
    """A stable key of the settings and inputs of a run (decides whether to resume)."""
    text = json.dumps(parts, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def content_digest(*paths: str | Path) -> str:
    """Digest of the bytes of the files (NPZ and safetensors files depend only on their
    arrays and metadata, not on their names or write times)."""
    digest = hashlib.sha256()
    for path in paths:
        try:
            with open(path, "rb") as handle:
                digest.update(hashlib.file_digest(handle, "sha256").digest())
        except OSError as exc:
            raise InputError(path, "file", f"an unreadable file ({reason(exc)})",
                             "a file written by the workflow") from None
    return digest.hexdigest()[:16]


def metric_fn(n_classes: int) -> Callable[[torch.Tensor, torch.Tensor], dict[str, float]]:
    """Validation accuracy and macro F1 for the metrics table."""
    classes = [str(i) for i in range(n_classes)]

    def metrics(logits: torch.Tensor, labels: torch.Tensor) -> dict[str, float]:
        m = classification_metrics(logits.numpy(), labels.numpy(), classes)
        return {"accuracy": m["accuracy"], "macro_f1": m["macro_f1"]}

    return metrics


def fit_classifier(
    arch: GATSettings | MLPSettings, train_cfg: TorchTrainSettings, meta: Mapping[str, Any],
    train_set: list[Data], val_set: list[Data], device: torch.device,
    checkpoint_dir: str | Path, history_path: str | Path, kd: KDSettings | None = None,
    label: str = "train", data_key: Any = "", on_epoch_end: Callable[[int], None] | None = None,
    curriculum: Curriculum | None = None,
) -> TrainResult:
    """Seed, build and train one model; with `kd`, the graphs must carry `teacher` logits;
    with a `curriculum` (over `train_set`), each epoch trains on the windows it picks.

    `data_key` identifies the training data (e.g. `content_digest` of the input files) so that
    a checkpoint trained on other data is not resumed."""
    n_classes = len(meta["classes"])
    seed = run_seed(train_cfg.seed)
    torch.manual_seed(seed)
    model: nn.Module = build_classifier(arch, len(meta["features"]), n_classes,
                                        meta["feature_mean"], meta["feature_std"])
    labels = np.array([int(g.y) for g in train_set])
    weight = class_weights(labels, n_classes, train_cfg.class_weighting)
    # without a curriculum the key is what it was before curricula existed
    key = fingerprint(arch.as_dict(), train_cfg.as_dict(), kd and kd.as_dict(), data_key,
                      *([curriculum.key] if curriculum is not None else []))
    return train_classifier(
        model, train_set, val_set, train_cfg, make_loss(weight, kd), device, checkpoint_dir,
        history_path, key, metric_fn(n_classes), label, on_epoch_end, curriculum,
    )


def fit_vgae(
    arch: VGAESettings, train_cfg: TorchTrainSettings, meta: Mapping[str, Any],
    train_set: list[Data], val_set: list[Data], device: torch.device,
    checkpoint_dir: str | Path, history_path: str | Path, label: str = "vgae",
    data_key: Any = "", on_epoch_end: Callable[[int], None] | None = None,
    teacher: GraphVGAE | None = None,
) -> TrainResult:
    """Seed, build and train the VGAE on the normal windows of the sets (attack windows are
    dropped here); early stopping and the best epoch follow the normal validation loss.

    With a `teacher` VGAE the model is a student: its loss is the squared difference of its
    log anomaly score and the teacher's, window by window."""
    attacks = meta["classes"][1:]  # class 0 is normal
    train_set = without_classes(train_set, meta["classes"], attacks)
    val_set = without_classes(val_set, meta["classes"], attacks)
    if not train_set or not val_set:
        raise ConfigError("VGAE: no normal window in the training or validation split")
    torch.manual_seed(run_seed(train_cfg.seed))
    model = build_classifier(arch, len(meta["features"]), len(meta["classes"]),
                             meta["feature_mean"], meta["feature_std"])
    assert isinstance(model, GraphVGAE)
    key = fingerprint(arch.as_dict(), train_cfg.as_dict(), data_key, teacher is not None)

    def loss(parts: torch.Tensor, batch: Batch) -> torch.Tensor:
        return model.loss(parts)

    def distilled(parts: torch.Tensor, batch: Batch) -> torch.Tensor:
        return ((torch.log(model.score(parts) + SCORE_EPS)
                 - torch.log(batch.teacher[:, 0] + SCORE_EPS)) ** 2).mean()

    if teacher is not None:
        train_set, val_set = (
            with_teacher(graphs, torch.from_numpy(
                anomaly_scores(teacher, graphs, train_cfg.batch_size, device))[:, None])
            for graphs in (train_set, val_set))
        loss = distilled

    return train_classifier(model, train_set, val_set, train_cfg, loss, device,
                            checkpoint_dir, history_path, key, None, label, on_epoch_end)
