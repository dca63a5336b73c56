"""IDS figures: thresholds at fixed false-positive rates, AUPRC, attack bursts and latency."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from distillery.can.ids import (
    attack_bursts,
    average_precision,
    detection_latency,
    ids_figures,
    thresholds,
)
from distillery.can.record import unseen_summary


def test_thresholds_leave_at_most_the_rate_of_normal_scores_above():
    normal = np.arange(1, 201, dtype=float)  # 200 windows
    cuts = thresholds(normal, (0.01, 0.001, 0.5))
    assert cuts[0.01] == 198.0  # 2 of 200 above
    assert cuts[0.001] == 200.0  # fewer than one window: the maximum
    assert cuts[0.5] == 100.0
    for f, t in cuts.items():
        assert (normal > t).mean() <= f


def test_average_precision_known_answers():
    positive = np.array([True, False, True, False])
    assert average_precision(np.array([4.0, 3.0, 2.0, 1.0]), positive) == pytest.approx(
        (1 + 2 / 3) / 2)
    assert average_precision(np.array([4.0, 1.0, 3.0, 2.0]), positive) == 1.0
    # a tie between a positive and a negative counts against the positive
    assert average_precision(np.array([1.0, 1.0, 0.0, 0.0]), positive) == pytest.approx(
        (0.5 + 2 / 4) / 2)


def _windows() -> pd.DataFrame:
    """Ten test windows of 1 s every 0.5 s; an attack from t = 2.25 s to about 4 s."""
    frac = [0, 0, 0, 0.0, 0.25, 0.75, 1.0, 0.5, 0.0, 0]
    labels = ["normal"] * 4 + ["normal", "dos", "dos", "dos"] + ["normal"] * 2
    return pd.DataFrame({
        "split": "test", "window": range(10), "capture": "a",
        "first_frame": [50 * k for k in range(10)], "last_frame": [50 * k + 99 for k in range(10)],
        "t_start": [0.5 * k for k in range(10)], "t_end": [0.5 * k + 1.0 for k in range(10)],
        "label": labels, "attack_frac": frac})


def test_bursts_and_latency_from_the_windows_table():
    windows = _windows()
    bursts = attack_bursts(windows)
    assert bursts["attack"].tolist() == ["dos"]
    assert bursts["windows"].tolist() == [[4, 5, 6, 7]]
    # first attack-bearing window [2, 3] s holds attack frames in its last quarter
    assert bursts["onset"].iloc[0] == pytest.approx(2.75)
    alarm = np.zeros(10, bool)
    alarm[[6, 9]] = True  # window 6 ends at 4 s; window 9 lies outside the burst
    latency = detection_latency(bursts, windows, alarm)["dos"]
    assert latency == {"bursts": 1, "detected": 1, "median_s": pytest.approx(1.25),
                       "max_s": pytest.approx(1.25)}
    assert detection_latency(bursts, windows, np.zeros(10, bool))["dos"]["detected"] == 0


def test_ids_figures_and_the_unseen_comparison():
    rng = np.random.default_rng(0)
    val_scores = rng.normal(size=1000)
    windows = _windows()
    labels = np.array([0, 0, 0, 0, 0, 1, 1, 1, 0, 0])
    scores = np.where(labels == 1, 10.0, -10.0)
    figures = ids_figures(val_scores, np.zeros(1000, int), scores, labels, windows,
                          ["normal", "dos"], (0.01, 0.001))
    dos = figures["attacks"]["dos"]
    assert dos["detection_rate"] == {"0.01": 1.0, "0.001": 1.0}
    assert dos["auroc"] == 1.0 and dos["auprc"] == 1.0
    assert figures["fpr"] == {"0.01": 0.0, "0.001": 0.0}
    assert figures["latency"]["dos"]["detected"] == 1
    weak = ids_figures(val_scores, np.zeros(1000, int), -scores, labels, windows,
                       ["normal", "dos"], (0.01,))
    ids = {"teacher": weak, "vgae": figures, "stacking": weak, "dqn": figures}
    summary = unseen_summary(ids, ["dos", "replay"], 0.01)
    unseen = summary["dos"]
    assert unseen["n"] == 3
    assert unseen["best_single"] == "vgae" and unseen["best_fusion"] == "dqn"
    assert unseen["fusion_beats_best_single"] is False  # equal is not better
    assert unseen["auroc"] == {"teacher": 0.0, "vgae": 1.0, "stacking": 0.0, "dqn": 1.0}
    # a second held-out attack without test windows stays listed, with nothing to compare
    assert summary["replay"] == {"fpr": 0.01, "n": 0, "detection_rate": {}, "auroc": {},
                                 "best_single": None, "best_fusion": None,
                                 "fusion_beats_best_single": None}
