"""Cross-dataset evaluation: thresholds from the source's normal validation windows, attacks
named by the target's classes."""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch

from distillery.can.cross import cross_figures
from distillery.can.ids import thresholds
from distillery.can.models.build import build_classifier
from distillery.can.scores import anomaly_scores
from tests.test_can_training import CPU, N_FEATURES, TINY_MLP, _graphs


def test_source_models_score_the_target_with_source_thresholds():
    torch.manual_seed(0)
    model = build_classifier(TINY_MLP, N_FEATURES, 2, [0.0] * N_FEATURES, [1.0] * N_FEATURES)
    source_val, target = _graphs(20, seed=1), _graphs(12, seed=2)
    for g in target[1::4]:
        g.y = torch.tensor([2])  # a third class the source never had
    labels = np.array([int(g.y) for g in target])
    windows = pd.DataFrame({
        "split": "test", "window": range(12), "capture": "a",
        "first_frame": np.arange(12) * 100, "last_frame": np.arange(12) * 100 + 99,
        "t_start": np.arange(12.0), "t_end": np.arange(12.0) + 1,
        "label": np.array(["normal", "dos", "replay"])[labels], "attack_frac": labels > 0})
    figures = cross_figures({"mlp": model}, source_val, target, windows,
                            ["normal", "dos", "replay"], (0.1,), 8, CPU)["mlp"]
    assert set(figures["attacks"]) == {"dos", "replay"}
    val_scores = anomaly_scores(model, source_val, 8, CPU)
    normal = np.array([int(g.y) == 0 for g in source_val])
    assert figures["thresholds"] == {"0.1": thresholds(val_scores[normal], (0.1,))[0.1]}
    test_scores = anomaly_scores(model, target, 8, CPU)
    assert figures["attacks"]["replay"]["detection_rate"]["0.1"] == float(
        (test_scores[labels == 2] > figures["thresholds"]["0.1"]).mean())
