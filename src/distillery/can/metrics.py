"""Classification metrics from logits: accuracy, macro F1, per-class precision/recall,
one-vs-rest AUROC and the confusion matrix (numpy only)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np


def confusion_matrix(labels: np.ndarray, predicted: np.ndarray, n_classes: int) -> np.ndarray:
    """counts[true, predicted]."""
    return np.bincount(labels * n_classes + predicted, minlength=n_classes**2).reshape(
        n_classes, n_classes)


def precision_recall_f1(counts: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-class scores; a class never predicted (or never present) scores 0 there."""
    hits = np.diag(counts).astype(np.float64)
    predicted, actual = counts.sum(0), counts.sum(1)
    precision = np.divide(hits, predicted, out=np.zeros_like(hits), where=predicted > 0)
    recall = np.divide(hits, actual, out=np.zeros_like(hits), where=actual > 0)
    total = precision + recall
    f1 = np.divide(2 * precision * recall, total, out=np.zeros_like(hits), where=total > 0)
    return precision, recall, f1


def macro_f1(labels: np.ndarray, predicted: np.ndarray, n_classes: int) -> float:
    """Mean F1 over the classes present in `labels` or `predicted`."""
    counts = confusion_matrix(labels, predicted, n_classes)
    present = (counts.sum(0) + counts.sum(1)) > 0
    return float(precision_recall_f1(counts)[2][present].mean())


def binary_auroc(scores: np.ndarray, positive: np.ndarray) -> float:
    """Area under the ROC curve (Mann-Whitney U with tied scores given their mean rank);
    NaN when only one class is present."""
    n_pos = int(positive.sum())
    n_neg = len(positive) - n_pos
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    order = np.argsort(scores, kind="mergesort")
    sorted_scores = scores[order]
    ranks = np.empty(len(scores), dtype=np.float64)
    starts = np.flatnonzero(np.r_[True, sorted_scores[1:] != sorted_scores[:-1]])
    ends = np.r_[starts[1:], len(scores)]
    for s, e in zip(starts, ends, strict=True):
        ranks[order[s:e]] = 0.5 * (s + e - 1) + 1.0
    return float((ranks[positive].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def softmax(logits: np.ndarray) -> np.ndarray:
    shifted = logits - logits.max(1, keepdims=True)
    exp = np.exp(shifted)
    return exp / exp.sum(1, keepdims=True)


def classification_metrics(logits: np.ndarray, labels: np.ndarray,
                           classes: Sequence[str]) -> dict[str, Any]:
    """All figures of one model on one set, JSON-ready."""
    n = len(classes)
    predicted = logits.argmax(1)
    counts = confusion_matrix(labels, predicted, n)
    precision, recall, f1 = precision_recall_f1(counts)
    probs = softmax(logits.astype(np.float64))
    auroc = {c: binary_auroc(probs[:, i], labels == i) for i, c in enumerate(classes)}
    finite = [v for v in auroc.values() if np.isfinite(v)]
    return {
        "n": len(labels),
        "accuracy": float((predicted == labels).mean()),
        "macro_f1": macro_f1(labels, predicted, n),
        "precision": dict(zip(classes, precision.tolist(), strict=True)),
        "recall": dict(zip(classes, recall.tolist(), strict=True)),
        "f1": dict(zip(classes, f1.tolist(), strict=True)),
        "auroc_ovr": {c: (v if np.isfinite(v) else None) for c, v in auroc.items()},
        "auroc_ovr_macro": float(np.mean(finite)) if finite else None,
        "confusion_matrix": counts.tolist(),
    }
