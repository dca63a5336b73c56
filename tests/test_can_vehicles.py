"""Two vehicles: a vehicle's captures go to the test split whole, test windows land in the four
can-train-and-test splits (known or unknown vehicle x known or unknown attack), each split's
figures at the 1% validation false-positive rate, and the split goals in the metrics record."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from distillery.can.dataset import build_all
from distillery.can.record import classifier_metrics
from distillery.can.settings import CANGoalSettings, ClassifierSettings, WindowSettings
from distillery.can.vehicles import (
    FOUR_SPLITS,
    four_splits,
    split_figures,
    vehicle_split_figures,
    vehicle_split_table,
)
from distillery.data.can import read_can_frames
from distillery.data.generate.can_bus import simulate_capture, write_capture
from distillery.data.ingest import ingest
from distillery.data.settings import SplitSettings
from distillery.data.splits import block_split, read_splits
from distillery.data.steps import split
from distillery.errors import InputError
from tests.metrics_inputs import CAN_LINEUP, CLASSES, can_models

KK, UK, KU, UU = FOUR_SPLITS  # (vehicle, attack): known/known, unknown/known, known/unknown, ...
CAPTURES = {"dos": ("a", "dos"), "masquerade": ("a", "masquerade"),
            "b_dos": ("b", "dos"), "b_masquerade": ("b", "masquerade")}


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    """Two captures of each vehicle, ingested with their tags, split with vehicle b held out
    for testing, and their windows."""
    root = tmp_path_factory.mktemp("vehicles")
    entries = []
    for capture, (vehicle, attack) in CAPTURES.items():
        path = root / f"{capture}.csv"
        write_capture(path, simulate_capture(attack, duration=3.0, n_bursts=1, seed=0,
                                             vehicle=vehicle))
        entries.append({"path": str(path), "capture": capture, "attack": attack,
                        "vehicle": vehicle})
    ingest([e["path"] for e in entries], {"format": "can_csv", "raw": entries},
           root / "frames.parquet")
    settings = SplitSettings(strategy="blocks", n_blocks=5, train=0.6, val=0.2, test=0.2,
                             test_vehicles=("b",))
    split(settings, str(root / "frames.parquet"), 0, str(root / "splits.json"))
    frames = read_can_frames(root / "frames.parquet")
    splits = read_splits(root / "splits.json")
    _, windows, _ = build_all(frames, splits, WindowSettings(size=50, stride=25), str(root))
    return {"root": root, "frames": frames, "splits": splits, "windows": windows,
            "settings": settings}


def test_ingest_keeps_each_captures_vehicle(data):
    frames = data["frames"]
    assert frames.groupby("capture")["vehicle"].unique().map(list).to_dict() == {
        capture: [vehicle] for capture, (vehicle, _) in CAPTURES.items()}


def test_a_test_vehicle_goes_to_the_test_split_whole_and_the_others_split_as_before(data):
    frames, splits = data["frames"], data["splits"]
    b = np.flatnonzero(frames["vehicle"] == "b")
    assert np.isin(b, splits["test"]).all()
    assert not np.isin(b, np.concatenate([splits["train"], splits["val"]])).any()
    # vehicle a's frames come first and are split exactly as they would be on their own
    a = frames["vehicle"].to_numpy() == "a"
    alone = block_split(frames["capture"].to_numpy()[a], {"train": 0.6, "val": 0.2, "test": 0.2},
                        0, 5)
    for name, rows in splits.items():
        np.testing.assert_array_equal(rows[rows < a.sum()], alone[name])


def test_a_misspelt_test_vehicle_stops_the_split(data):
    settings = data["settings"].model_copy(update={"test_vehicles": ("c",)})
    with pytest.raises(InputError, match=r"no frames of split.test_vehicles \['c'\]"):
        split(settings, str(data["root"] / "frames.parquet"), 0,
              str(data["root"] / "other.json"))


def test_test_windows_land_in_the_split_of_their_vehicle_and_capture(data):
    windows = data["windows"]
    test = windows[windows["split"] == "test"].sort_values("window")
    assigned = four_splits(windows, ["masquerade"])
    # each capture holds one attack: all its test windows, normal ones too, share a split
    expected = {"dos": {KK}, "b_dos": {UK}, "masquerade": {KU}, "b_masquerade": {UU}}
    assert {c: set(assigned[test["capture"].to_numpy() == c]) for c in CAPTURES} == expected
    assert set(test.loc[assigned == UU, "label"]) == {"normal", "masquerade"}
    # nothing of vehicle b was trained or validated on
    assert set(windows.loc[windows["split"] != "test", "vehicle"]) == {"a"}


def test_normal_windows_follow_their_capture_and_attack_windows_their_label():
    """A capture with a seen and a held-out attack: its attack windows by label, its normal
    windows in the unknown-attack split; a vehicle with training windows is known."""
    windows = pd.DataFrame({
        "split": ["train", "train", "test", "test", "test", "test", "test"],
        "window": [0, 1, 0, 1, 2, 3, 4],
        "capture": ["mixed", "plain", "mixed", "mixed", "mixed", "plain", "other_car"],
        "vehicle": ["a", "a", "a", "a", "a", "a", "b"],
        "label": ["masquerade", "normal", "normal", "dos", "masquerade", "normal", "normal"],
    })
    assert four_splits(windows, ["masquerade"]).tolist() == [KU, KK, KU, KK, UK]


def test_split_figures_of_known_scores():
    # normal validation scores 0..99: the threshold at 1% FPR is 98 (one of 100 above it)
    val = np.arange(100.0)
    scores = np.array([0, 50, 99, 99.5, 120, 200, 300, 150, 10, 500])
    labels = np.array([0, 0, 0, 1, 1, 0, 0, 2, 1, 1])
    splits = np.array([KK] * 5 + [UK] * 3 + [UU] * 2)
    figures = split_figures(val, np.zeros(100, int), scores, labels, splits, 0.01)
    assert figures["threshold"] == 98.0
    kk, uk, ku, uu = (figures["splits"][s] for s in FOUR_SPLITS)
    # known/known: one false alarm in three normal windows, both attacks caught
    assert (kk["n_normal"], kk["n_attack"]) == (3, 2)
    assert kk["macro_f1"] == pytest.approx(0.8)
    assert (kk["detection_rate"], kk["false_positive_rate"], kk["auroc"]) == (
        1.0, pytest.approx(1 / 3), 1.0)
    # an unknown vehicle whose normal traffic scores above the attack: every window alarms
    assert uk["macro_f1"] == pytest.approx(0.25)
    assert (uk["detection_rate"], uk["false_positive_rate"], uk["auroc"]) == (1.0, 1.0, 0.0)
    # a split without windows has no figures; one without normal windows no FPR or AUROC
    assert ku == {"n_normal": 0, "n_attack": 0, "macro_f1": None, "detection_rate": None,
                  "false_positive_rate": None, "auroc": None}
    assert uu["macro_f1"] == pytest.approx(1 / 3)
    assert (uu["detection_rate"], uu["false_positive_rate"], uu["auroc"]) == (0.5, None, None)


@pytest.fixture(scope="module")
def figures():
    """The split figures of two models from a scores table as can_scores writes it."""
    val = np.arange(100.0)
    test = np.array([0, 50, 99, 99.5, 120, 200, 300, 150, 10, 500])
    labels = np.array([0, 0, 0, 1, 1, 0, 0, 2, 1, 1])
    scores = pd.concat([pd.DataFrame({
        "split": ["val"] * 100 + ["test"] * 10, "window": [*range(100), *range(10)],
        "label": [0] * 100 + labels.tolist(), "model": model,
        "score": np.concatenate([val, test]) * scale}) for model, scale in
        (("teacher", 1.0), ("stacking", 1.0))], ignore_index=True)
    return vehicle_split_figures(scores, np.array([KK] * 5 + [UK] * 3 + [UU] * 2), 0.01)


def test_vehicle_split_table_has_one_row_per_model_and_split(figures):
    table = vehicle_split_table(figures)
    assert table[["model", "split"]].values.tolist() == [
        [m, s] for m in ("teacher", "stacking") for s in FOUR_SPLITS]
    assert list(table.columns) == ["model", "split", "n_normal", "n_attack", "macro_f1",
                                   "detection_at_fpr_0.01", "test_fpr", "auroc"]
    assert table["macro_f1"].iloc[:4].tolist() == pytest.approx([0.8, 0.25, np.nan, 1 / 3],
                                                               nan_ok=True)


def test_split_goals_go_on_the_split_model_a_fusion_getting_its_own_record(figures):
    goals = CANGoalSettings(known_split_macro_f1=0.8, unknown_split_macro_f1=0.25)
    vehicles = {"known": ["a"], "unknown": ["b"]}
    record = classifier_metrics("can", can_models(), goals, CAN_LINEUP, "cpu", CLASSES, 40,
                                vehicle_splits=figures, split_model="stacking",
                                vehicles=vehicles)
    fusion = next(m for m in record.models if m.model == "stacking")
    assert fusion.role == "fusion" and fusion.primary.name == "min_split_macro_f1"
    assert fusion.primary.value == pytest.approx(0.25)  # over the splits with windows
    # an empty split has no value and misses its goal
    assert [(g.name, g.threshold, g.passed) for g in fusion.goals] == [
        (f"macro_f1_{KK}", 0.8, True), (f"macro_f1_{UK}", 0.25, True),
        (f"macro_f1_{KU}", 0.25, False), (f"macro_f1_{UU}", 0.25, True)]
    assert record.summary["vehicle_splits"]["vehicles"] == vehicles
    assert record.summary["vehicle_splits"]["models"]["teacher"]["splits"][KK]["macro_f1"] \
        == pytest.approx(0.8)
    # a model with a record of its own carries them after its other goals
    record = classifier_metrics("can", can_models(), CANGoalSettings(), CAN_LINEUP, "cpu",
                                CLASSES, 40, vehicle_splits=figures, split_model="teacher")
    assert "stacking" not in {m.model for m in record.models}
    assert [(m, g.name, g.passed) for m, g in record.goals() if m == "teacher"] == [
        ("teacher", "macro_f1", True), *(("teacher", f"macro_f1_{s}", False)
                                         for s in FOUR_SPLITS)]


def test_the_split_model_must_be_scored():
    assert ClassifierSettings().ids.split_model == "stacking"
    with pytest.raises(ValueError, match="ids.split_model: found 'gat'"):
        ClassifierSettings(ids={"split_model": "gat"})
