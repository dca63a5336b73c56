"""Classification metrics against hand-computed values and a brute-force AUROC."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from distillery.can.metrics import binary_auroc, classification_metrics


def _brute_auroc(scores, positive):
    pairs = list(itertools.product(scores[positive], scores[~positive]))
    return np.mean([1.0 if p > n else 0.5 if p == n else 0.0 for p, n in pairs])


def test_auroc_matches_pair_counting_with_ties():
    rng = np.random.default_rng(1)
    scores = rng.integers(0, 5, 40).astype(float)  # many ties
    positive = rng.random(40) < 0.4
    assert binary_auroc(scores, positive) == pytest.approx(_brute_auroc(scores, positive))
    assert np.isnan(binary_auroc(scores, np.zeros(40, bool)))


def test_metrics_of_a_known_prediction():
    labels = np.array([0, 0, 0, 1, 1, 2])
    predicted = np.array([0, 0, 1, 1, 1, 0])
    logits = np.eye(3)[predicted] * 5.0
    m = classification_metrics(logits, labels, ["normal", "dos", "fuzzy"])
    assert m["confusion_matrix"] == [[2, 1, 0], [0, 2, 0], [1, 0, 0]]
    assert m["accuracy"] == pytest.approx(4 / 6)
    assert m["precision"] == pytest.approx({"normal": 2 / 3, "dos": 2 / 3, "fuzzy": 0.0})
    assert m["recall"] == pytest.approx({"normal": 2 / 3, "dos": 1.0, "fuzzy": 0.0})
    assert m["macro_f1"] == pytest.approx((2 / 3 + 0.8 + 0.0) / 3)
    # dos scores: both dos windows tie with the one normal window predicted dos: 7 of 8 pairs
    assert m["auroc_ovr"]["dos"] == pytest.approx(7 / 8)
