"""VGAE anomaly detector and score fusion: trained on normal windows it scores anomalous ones
higher, deterministically, and reloads; stacking and the DQN agent learn which score to trust;
held-out attacks leave the training sets."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from distillery.can.fusion import (
    ZScaler,
    dqn_scores,
    fit_dqn,
    fit_stacking,
    mixed,
    stacking_scores,
)
from distillery.can.metrics import binary_auroc
from distillery.can.models.build import load_classifier, save_classifier
from distillery.can.scores import anomaly_scores
from distillery.can.settings import ClassifierSettings, FusionSettings, VGAESettings
from distillery.can.training import fit_vgae, without_classes
from distillery.errors import ConfigError
from distillery.train.settings import TorchTrainSettings
from tests.test_can_training import CPU, META, _graphs

TRAIN = TorchTrainSettings.model_validate({"epochs": 15, "batch_size": 8, "lr": 1e-2,
                                           "patience": 0, "seed": 3})


@pytest.mark.parametrize("encoder", ["gat", "gcn"])
def test_vgae_trained_on_normal_windows_scores_anomalies_higher(tmp_path, encoder):
    graphs = _graphs(48)  # odd graphs (class 1) carry one shifted node
    arch = VGAESettings(encoder=encoder, hidden=8, latent=4, heads=2, layers=1)
    result = fit_vgae(arch, TRAIN, META, graphs, graphs, CPU, tmp_path / "ckpt",
                      tmp_path / "history.csv")
    assert result.history[-1]["train_loss"] < result.history[0]["train_loss"]
    scores = anomaly_scores(result.model, graphs, 16, CPU)
    labels = np.array([int(g.y) for g in graphs])
    assert binary_auroc(scores, labels == 1) > 0.9
    # eval mode decodes the mean: the same windows score the same, in any batch size
    np.testing.assert_allclose(anomaly_scores(result.model, graphs, 5, CPU), scores, rtol=1e-5)
    save_classifier(tmp_path / "vgae.safetensors", result.model, arch.as_dict(),
                    {"n_classes": 2, "best_epoch": result.best_epoch})
    reloaded, info = load_classifier(tmp_path / "vgae.safetensors")
    np.testing.assert_allclose(anomaly_scores(reloaded, graphs, 16, CPU), scores, rtol=1e-6)
    assert info["best_epoch"] == result.best_epoch


def test_without_classes_drops_held_out_windows_and_names_unknown_ones():
    graphs = _graphs(6)
    kept = without_classes(graphs, ["normal", "dos"], ["dos"])
    assert [int(g.y) for g in kept] == [0, 0, 0]
    assert len(without_classes(graphs, ["normal", "dos"], ())) == 6
    with pytest.raises(ConfigError, match="masquerade"):
        without_classes(graphs, ["normal", "dos"], ["masquerade"])


def _two_detectors(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Detector 0 separates attacks well (4 standard deviations), detector 1 is noise."""
    rng = np.random.default_rng(seed)
    attack = rng.random(n) < 0.4
    good = np.exp(rng.normal(size=n) + 4.0 * attack)
    noise = np.exp(rng.normal(size=n))
    return np.stack([good, noise], 1), attack


def test_stacking_weights_the_informative_detector():
    scores, attack = _two_detectors(600, 0)
    z = ZScaler.fit(scores, ~attack)(scores)
    assert np.abs(z[~attack].mean(0)).max() < 1e-9  # normal windows standardised
    coef = fit_stacking(z, attack, l2=FusionSettings().stacking_l2)
    assert coef[1] > 5 * abs(coef[2])
    test, test_attack = _two_detectors(400, 1)
    fused = stacking_scores(coef, ZScaler.fit(scores, ~attack)(test))
    assert binary_auroc(fused, test_attack) > 0.97


def test_dqn_agent_learns_to_trust_the_informative_detector_deterministically():
    scores, attack = _two_detectors(600, 0)
    z = ZScaler.fit(scores, ~attack)(scores)
    cfg = FusionSettings(steps=400, actions=5, seed=1)
    q = fit_dqn(z, attack, cfg)
    fused, action = dqn_scores(q, z, cfg.actions)
    # the weight of detector 0 is high on most windows and the decisions are right
    assert np.mean(action >= 3) > 0.8
    assert np.mean((fused > cfg.decision_z) == attack) > 0.95
    again = fit_dqn(z, attack, cfg)
    for a, b in zip(q.state_dict().values(), again.state_dict().values(), strict=True):
        assert torch.equal(a, b)


def test_fusions_take_a_third_detector_and_stay_finite_when_it_separates_the_attacks():
    scores, attack = _two_detectors(600, 0)
    # a third detector that separates every attack: an unpenalised fit would diverge
    perfect = np.where(attack, 100.0, 1.0) * np.exp(0.1 * np.random.default_rng(2).normal(
        size=len(attack)))
    z = ZScaler.fit(np.c_[scores, perfect], ~attack)(np.c_[scores, perfect])
    coef = fit_stacking(z, attack, l2=FusionSettings().stacking_l2)
    assert np.abs(coef).max() < 100 and coef[3] > coef[2]
    assert binary_auroc(stacking_scores(coef, z), attack) == 1.0
    # the DQN mixes the first detector with the largest of the others
    action = np.array([0, 2, 4])
    rows = np.array([[1.0, 5.0, -2.0], [2.0, 0.0, 4.0], [3.0, 9.0, 9.0]])
    np.testing.assert_allclose(mixed(rows, action, 5), [5.0, 0.5 * 2.0 + 0.5 * 4.0, 3.0])
    q = fit_dqn(z, attack, FusionSettings(steps=50, actions=3))
    assert q.net[0].in_features == 3


def test_a_small_vgae_student_learns_the_teachers_anomaly_scores(tmp_path):
    graphs = _graphs(48)
    teacher = fit_vgae(VGAESettings(hidden=8, latent=4, heads=2, layers=1), TRAIN, META,
                       graphs, graphs, CPU, tmp_path / "t", tmp_path / "t.csv").model
    target = anomaly_scores(teacher, graphs, 16, CPU)
    student = fit_vgae(VGAESettings(hidden=4, latent=2, heads=2, layers=1), TRAIN, META,
                       graphs, graphs, CPU, tmp_path / "s", tmp_path / "s.csv",
                       teacher=teacher)
    assert student.history[-1]["val_loss"] < 0.5 * student.history[0]["val_loss"]
    # the student's loss is the squared log-score gap on the normal windows
    normal = [g for g in graphs if int(g.y) == 0]
    gap = np.log(anomaly_scores(student.model, normal, 16, CPU) + 1e-6) - np.log(
        target[[int(g.y) == 0 for g in graphs]] + 1e-6)
    assert np.mean(gap**2) == pytest.approx(student.history[student.best_epoch - 1]["val_loss"],
                                            rel=1e-4)


def test_normal_traffic_cannot_be_held_out():
    with pytest.raises(ValueError, match="normal traffic cannot be held out"):
        ClassifierSettings(held_out=["normal"])
    assert ClassifierSettings(held_out=["masquerade"]).held_out == ("masquerade",)
