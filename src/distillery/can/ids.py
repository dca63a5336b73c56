"""Intrusion-detection figures of one anomaly score per window: thresholds at fixed
false-positive rates on normal validation windows, per-attack detection rates, AUROC, AUPRC
and the detection latency of each attack burst."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from distillery.can.metrics import binary_auroc


def thresholds(normal_scores: np.ndarray, fprs: Sequence[float]) -> dict[float, float]:
    """Per false-positive rate f, the smallest threshold t with at most f of the normal
    scores above t (an alarm is score > t); with n normal windows, f < 1/n gives their max."""
    ordered = np.sort(np.asarray(normal_scores, dtype=np.float64))
    if ordered.size == 0:
        raise ValueError("no normal validation window to set thresholds on")
    n = ordered.size
    return {f: float(ordered[min(n - 1, int(np.ceil(n * (1.0 - f))) - 1)]) for f in fprs}


def average_precision(scores: np.ndarray, positive: np.ndarray) -> float:
    """Area under the precision-recall curve as the mean precision at each positive's rank
    (ties broken against the positives); NaN without positives."""
    n_pos = int(positive.sum())
    if n_pos == 0:
        return float("nan")
    order = np.lexsort((positive, -scores))  # descending score, negatives first among ties
    hits = positive[order].astype(np.float64)
    precision = np.cumsum(hits) / np.arange(1, len(hits) + 1)
    return float((precision * hits).sum() / n_pos)


def _finite(value: float) -> float | None:
    return float(value) if np.isfinite(value) else None


def per_attack(scores: np.ndarray, labels: np.ndarray, classes: Sequence[str],
               cuts: Mapping[float, float]) -> dict[str, Any]:
    """Test figures of one score: the false-positive rate on normal test windows at each
    threshold, and per attack present the detection rate at each, AUROC and AUPRC (attack
    windows against normal windows)."""
    normal = labels == 0
    out: dict[str, Any] = {"fpr": {str(f): float((scores[normal] > t).mean()) if normal.any()
                                   else None for f, t in cuts.items()}, "attacks": {}}
    for index, name in enumerate(classes):
        attack = labels == index
        if index == 0 or not attack.any():
            continue
        both = normal | attack
        out["attacks"][name] = {
            "n": int(attack.sum()),
            "detection_rate": {str(f): float((scores[attack] > t).mean())
                               for f, t in cuts.items()},
            "auroc": _finite(binary_auroc(scores[both], attack[both])),
            "auprc": _finite(average_precision(scores[both], attack[both])),
        }
    return out


def attack_bursts(windows: pd.DataFrame) -> pd.DataFrame:
    """Bursts of one split's windows table: runs of overlapping windows of one capture that
    hold attack frames, with the attack (the most frequent label among the run's attack-
    labelled windows; runs with none are skipped) and the estimated onset.

    The onset is estimated from the first window of the run, whose attack frames are its
    last `attack_frac` share: t_end - attack_frac * (t_end - t_start)."""
    rows = []
    w = windows.sort_values(["capture", "first_frame"]).reset_index(drop=True)
    hit = w["attack_frac"].to_numpy() > 0
    start = None
    for i in range(len(w) + 1):
        joined = (i < len(w) and hit[i] and start is not None
                  and w.at[i, "capture"] == w.at[i - 1, "capture"]
                  and w.at[i, "first_frame"] <= w.at[i - 1, "last_frame"])
        if joined:
            continue
        if start is not None:
            run = w.iloc[start:i]
            labels = run["label"][run["label"] != "normal"]
            if len(labels):
                first = run.iloc[0]
                rows.append({"capture": first["capture"], "attack": labels.mode().iloc[0],
                             "onset": first["t_end"] - first["attack_frac"]
                             * (first["t_end"] - first["t_start"]),
                             "windows": run["window"].tolist()})
        start = i if i < len(w) and hit[i] else None
    return pd.DataFrame(rows, columns=["capture", "attack", "onset", "windows"])


def detection_latency(bursts: pd.DataFrame, windows: pd.DataFrame, alarm: np.ndarray
                      ) -> dict[str, Any]:
    """Per attack: bursts, bursts detected, and the median and maximum time in seconds from
    onset to the end of the first alarmed window of a burst (a window is scored once it is
    complete). `alarm[k]` belongs to the window numbered `k` of the split."""
    t_end = dict(zip(windows["window"], windows["t_end"], strict=True))
    out: dict[str, Any] = {}
    for attack, group in bursts.groupby("attack"):
        delays = []
        for onset, numbers in zip(group["onset"], group["windows"], strict=True):
            alarmed = [k for k in numbers if alarm[k]]
            if alarmed:
                delays.append(max(0.0, t_end[alarmed[0]] - onset))
        out[str(attack)] = {
            "bursts": len(group), "detected": len(delays),
            "median_s": float(np.median(delays)) if delays else None,
            "max_s": float(np.max(delays)) if delays else None,
        }
    return out


def ids_figures(val_scores: np.ndarray, val_labels: np.ndarray, test_scores: np.ndarray,
                test_labels: np.ndarray, test_windows: pd.DataFrame, classes: Sequence[str],
                fprs: Sequence[float]) -> dict[str, Any]:
    """Every IDS figure of one score: thresholds from the normal validation windows, test
    detection rates, AUROC/AUPRC per attack and the detection latency at the first FPR."""
    cuts = thresholds(val_scores[val_labels == 0], fprs)
    alarm = test_scores > cuts[fprs[0]]
    return {"thresholds": {str(f): t for f, t in cuts.items()},
            **per_attack(test_scores, test_labels, classes, cuts),
            "latency": detection_latency(attack_bursts(test_windows), test_windows, alarm)}


def ids_table(ids: Mapping[str, Mapping[str, Any]], held_out: Sequence[str]) -> pd.DataFrame:
    """One row per model and attack: detection rates, AUROC, AUPRC, bursts detected and the
    median latency; `unseen` marks attacks kept out of training."""
    rows = []
    for model, figures in ids.items():
        for attack, a in figures["attacks"].items():
            latency = figures["latency"].get(attack, {})
            rows.append({
                "model": model, "attack": attack, "unseen": attack in held_out, "n": a["n"],
                **{f"detection_at_fpr_{f}": rate for f, rate in a["detection_rate"].items()},
                "auroc": a["auroc"], "auprc": a["auprc"],
                "bursts_detected": f"{latency.get('detected', 0)}/{latency.get('bursts', 0)}",
                "latency_median_s": latency.get("median_s"),
            })
    return pd.DataFrame(rows)
