"""Curriculum ordering of the CAN classifiers: pacing, difficulty, the subsets per epoch, the
training loop that follows them, and the settings that switch it on."""

from __future__ import annotations

import copy
import math

import numpy as np
import pandas as pd
import pytest
import torch
import yaml
from torch_geometric.data import Data

from distillery.can.curriculum import (
    Curriculum,
    label_margin,
    pacing_fraction,
    teacher_loss,
    train_attack_fractions,
)
from distillery.can.settings import ARCH, CurriculumSettings
from distillery.can.training import fit_classifier
from distillery.errors import ConfigError, InputError
from distillery.settings import load
from distillery.train.settings import TorchTrainSettings
from tests.test_settings import ROOT

N_FEATURES = 3
META = {"classes": ["normal", "dos"], "features": [f"f{i}" for i in range(N_FEATURES)],
        "feature_mean": [0.0] * N_FEATURES, "feature_std": [1.0] * N_FEATURES}
TINY_MLP = ARCH.validate_python({"kind": "mlp", "hidden": 4, "layers": 1, "node_layers": 1})
CPU = torch.device("cpu")


def _curriculum(**kwargs) -> CurriculumSettings:
    return CurriculumSettings(enabled=True, **kwargs)


def test_linear_pacing_grows_from_the_start_fraction_to_all_at_epochs_to_full():
    c = _curriculum(start_fraction=0.25, epochs_to_full=4)
    assert [pacing_fraction(c, e) for e in range(1, 7)] == [0.25, 0.5, 0.75, 1.0, 1.0, 1.0]
    assert pacing_fraction(_curriculum(start_fraction=0.4, epochs_to_full=1), 1) == 1.0


def test_root_pacing_adds_hard_windows_sooner_and_ends_at_all():
    c = _curriculum(pacing="root", start_fraction=0.25, epochs_to_full=4)
    fractions = [pacing_fraction(c, e) for e in range(1, 6)]
    assert fractions[0] == 0.25
    assert fractions[1] == pytest.approx(math.sqrt(0.25**2 + (1 - 0.25**2) / 3))
    assert fractions[3:] == [1.0, 1.0]
    linear = _curriculum(start_fraction=0.25, epochs_to_full=4)
    assert all(f > pacing_fraction(linear, e) for e, f in zip((2, 3), fractions[1:3], strict=True))


def test_label_margin_is_zero_for_pure_traffic_and_one_at_the_threshold():
    frac = np.array([0.0, 0.05, 0.1, 0.55, 1.0])
    labels = np.array([0, 0, 1, 1, 1])
    np.testing.assert_allclose(label_margin(frac, labels, 0.1), [0.0, 0.5, 1.0, 0.5, 0.0])
    # threshold 1: attack windows are all attack frames, so they are all easy
    np.testing.assert_allclose(label_margin(np.array([1.0]), np.array([1]), 1.0), [0.0])


def test_teacher_loss_is_low_where_the_teacher_is_confident_and_right():
    logits = torch.tensor([[4.0, -4.0], [0.1, 0.0], [-4.0, 4.0]])
    loss = teacher_loss(logits, np.array([0, 0, 0]))
    assert loss[0] < loss[1] < loss[2]


def test_the_first_epoch_takes_exactly_the_easiest_windows_of_each_class():
    rng = np.random.default_rng(0)
    labels = np.repeat([0, 1, 2], [10, 6, 3])
    difficulty = rng.permutation(len(labels)).astype(float)  # distinct: no ties
    c = Curriculum(_curriculum(start_fraction=0.3, epochs_to_full=3), difficulty, labels, seed=1)
    expected = set()
    for cls, take in ((0, 3), (1, 2), (2, 1)):  # ceil(0.3 n), at least one per class
        rows = np.flatnonzero(labels == cls)
        expected |= set(rows[np.argsort(difficulty[rows])[:take]].tolist())
    first = c(1)
    assert set(first.tolist()) == expected and list(first) == sorted(first)
    assert set(c(2).tolist()) > expected
    assert list(c(3)) == list(range(len(labels)))


def test_ties_are_broken_by_the_seed():
    labels, flat = np.zeros(20, dtype=int), np.zeros(20)
    settings = _curriculum(start_fraction=0.25, epochs_to_full=2)
    picks = [tuple(Curriculum(settings, flat, labels, seed)(1)) for seed in (0, 0, 1)]
    assert picks[0] == picks[1] != picks[2] and all(len(p) == 5 for p in picks)


def _graphs(n: int, seed: int = 0) -> list[Data]:
    """Ring graphs; class 1 has one node with a shifted feature vector."""
    rng = np.random.default_rng(seed)
    graphs = []
    for i in range(n):
        nodes = int(rng.integers(3, 6))
        x = rng.normal(size=(nodes, N_FEATURES)).astype(np.float32)
        if i % 2:
            x[0] += 2.0
        ring = np.arange(nodes)
        graphs.append(Data(x=torch.from_numpy(x),
                           edge_index=torch.from_numpy(np.stack([ring, np.roll(ring, -1)])),
                           edge_attr=torch.full((nodes, 1), 1.0 / nodes),
                           y=torch.tensor([i % 2])))
    return graphs


def test_train_attack_fractions_follow_the_training_graphs_without_held_out_attacks(tmp_path):
    graphs = _graphs(4)  # labels normal, dos, normal, dos
    table = pd.DataFrame({
        "split": ["train"] * 5 + ["val"], "window": [0, 1, 2, 3, 4, 0],
        "label": ["normal", "dos", "fuzzy", "normal", "dos", "normal"],
        "attack_frac": [0.0, 0.5, 0.9, 0.02, 1.0, 0.0]}).iloc[::-1]
    table.to_parquet(tmp_path / "windows.parquet")
    fractions = train_attack_fractions(tmp_path / "windows.parquet", graphs,
                                       ["normal", "dos", "fuzzy"], ["fuzzy"])
    np.testing.assert_allclose(fractions, [0.0, 0.5, 0.02, 1.0])
    with pytest.raises(InputError, match="do not follow the 4 training graphs"):
        train_attack_fractions(tmp_path / "windows.parquet", graphs,
                               ["normal", "dos", "fuzzy"], [])


def _fit(tmp_path, curriculum: Curriculum | None, **cfg):
    train = TorchTrainSettings.model_validate({
        "epochs": 4, "batch_size": 4, "lr": 1e-2, "patience": 0, "seed": 5,
        "schedule": {"kind": "cosine", "warmup_epochs": 1}, **cfg})
    graphs = _graphs(16)
    return fit_classifier(TINY_MLP, train, META, graphs, graphs, CPU, tmp_path / "ckpt",
                          tmp_path / "history.csv", curriculum=curriculum)


def _easy_first(**kwargs) -> Curriculum:
    settings = _curriculum(start_fraction=0.25, epochs_to_full=3, **kwargs)
    return Curriculum(settings, np.arange(16.0), np.arange(16) % 2, seed=5)


def test_training_with_a_curriculum_is_deterministic_and_differs_from_without(
        tmp_path, capsys):
    first = _fit(tmp_path / "a", _easy_first())
    again = _fit(tmp_path / "b", _easy_first())
    plain = _fit(tmp_path / "c", None)
    weights = [r.model.state_dict() for r in (first, again, plain)]
    for key, value in weights[0].items():
        torch.testing.assert_close(weights[1][key], value, rtol=0, atol=0)
    assert any(not torch.equal(weights[2][k], v) for k, v in weights[0].items())
    # 2 of 8 windows per class, then 5, then all
    assert [r["curriculum_fraction"] for r in first.history] == [0.25, 0.625, 1.0, 1.0]
    assert "curriculum_fraction" not in plain.history[0]
    # the schedule counts the steps the short epochs really took: it ends at its floor
    for result in (first, plain):
        assert result.history[-1]["lr"] == pytest.approx(1e-2 * 0.05)
    out = capsys.readouterr().out
    assert "curriculum_fraction 0.25" in out and "curriculum_fraction 0.625" in out


def test_early_stopping_waits_for_the_first_epoch_on_the_whole_set(tmp_path):
    # min_delta 1: nothing after epoch 1 counts as better, so patience 1 stops after epoch 2
    cfg = {"patience": 1, "min_delta": 1.0}
    assert _fit(tmp_path / "a", None, **cfg).epochs_run == 2
    assert _fit(tmp_path / "b", _easy_first(), **cfg).epochs_run == 3


@pytest.fixture
def config() -> dict:
    return yaml.safe_load((ROOT / "config" / "config.yaml").read_text())


@pytest.mark.parametrize(
    ("curriculum", "message"),
    [
        ({"enabled": True, "start_fraction": 0}, r"^config: classifier\.curriculum\."
         r"start_fraction: found 0, expected input should be greater than 0$"),
        ({"pacing": "cubic"}, r"^config: classifier\.curriculum\.pacing: found \"cubic\""),
        ({"kd_difficulty": "vgae"}, r"classifier\.curriculum\.kd_difficulty: found \"vgae\""),
        ({"epochs_to_ful": 3}, r"classifier\.curriculum\.epochs_to_ful: unknown key, "
         r"expected one of \[.*'epochs_to_full'"),
        ({"enabled": True, "epochs_to_full": 40},
         r"classifier: .*curriculum\.epochs_to_full \(40\) must be at most train\.epochs \(30\)"),
    ],
)
def test_bad_curriculum_settings_give_one_line_config_errors(config, curriculum, message):
    bad = copy.deepcopy(config)
    bad.setdefault("classifier", {})["curriculum"] = curriculum
    with pytest.raises(ConfigError, match=message) as error:
        load(bad)
    assert "\n" not in str(error.value)


def test_a_dataset_can_switch_the_curriculum_on(config):
    on = copy.deepcopy(config)
    on["datasets"]["can"]["classifier"]["curriculum"] = {"enabled": True, "epochs_to_full": 5}
    resolved = load(on)
    assert resolved.classifier("can").curriculum.enabled
    assert resolved.classifier("can").curriculum.measure(distilled=True) == "teacher_loss"
    assert resolved.classifier("can").curriculum.measure(distilled=False) == "label_margin"
    assert not load(config).classifier("can").curriculum.enabled
