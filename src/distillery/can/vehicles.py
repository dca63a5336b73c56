"""The four test splits of can-train-and-test (Lampe & Meng): known or unknown vehicle crossed
with known or unknown attack, scored by the models trained on the known vehicles.

A vehicle is known when it has training windows (`split.test_vehicles` sends a vehicle's frames
to the test split whole). A window labelled with an attack is of an unknown attack when that
attack is held out (`classifier.held_out`); a normal window goes with its capture, as the
can-train-and-test splits are made of whole captures: unknown attack when the capture holds
windows of a held-out attack, known otherwise (attack-free captures included).

Every model is judged as a detector at one operating point: an alarm is a score above its
threshold at the false-positive rate `fpr` on the normal validation windows, which are the
known vehicles' (a vehicle never seen brings no normal traffic to calibrate on). Per split:
the macro-F1 of normal against attack windows, the detection rate of the attack windows, the
false-positive rate of the normal ones and the AUROC of the score.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from distillery.can.ids import thresholds
from distillery.can.metrics import binary_auroc, macro_f1
from distillery.can.windows import NORMAL

FOUR_SPLITS = ("known_vehicle_known_attack", "unknown_vehicle_known_attack",
               "known_vehicle_unknown_attack", "unknown_vehicle_unknown_attack")
KNOWN_VEHICLE = (FOUR_SPLITS[0], FOUR_SPLITS[2])


def four_splits(windows: pd.DataFrame, held_out: Sequence[str]) -> np.ndarray:
    """The split (a `FOUR_SPLITS` name) of every test window of the windows table (all
    splits: the training windows name the known vehicles), in the order of the test windows."""
    known = known_and_unknown(windows)["known"]
    unseen_captures = set(windows.loc[windows["label"].isin(held_out), "capture"])
    test = windows[windows["split"] == "test"].sort_values("window")
    unknown_vehicle = ~test["vehicle"].isin(known).to_numpy()
    unknown_attack = np.where(test["label"] == NORMAL, test["capture"].isin(unseen_captures),
                              test["label"].isin(held_out))
    return np.array(FOUR_SPLITS)[unknown_vehicle.astype(int) + 2 * unknown_attack]


def _finite(value: float) -> float | None:
    return float(value) if np.isfinite(value) else None


def split_figures(val_scores: np.ndarray, val_labels: np.ndarray, test_scores: np.ndarray,
                  test_labels: np.ndarray, splits: np.ndarray, fpr: float) -> dict[str, Any]:
    """One score's figures on each of the four splits (`splits`: the split of every test
    window) at the threshold of false-positive rate `fpr` on the normal validation windows;
    a split without windows of a kind has None for the figures that need them."""
    cut = thresholds(val_scores[val_labels == 0], [fpr])[fpr]
    alarm, attack = test_scores > cut, test_labels > 0
    out: dict[str, Any] = {}
    for name in FOUR_SPLITS:
        mine = splits == name
        hit, positive = alarm[mine], attack[mine]
        out[name] = {
            "n_normal": int((~positive).sum()), "n_attack": int(positive.sum()),
            "macro_f1": macro_f1(positive.astype(int), hit.astype(int), 2) if mine.any()
            else None,
            "detection_rate": float(hit[positive].mean()) if positive.any() else None,
            "false_positive_rate": float(hit[~positive].mean()) if (~positive).any() else None,
            "auroc": _finite(binary_auroc(test_scores[mine], positive)),
        }
    return {"fpr": fpr, "threshold": cut, "splits": out}


def vehicle_split_figures(scores: pd.DataFrame, splits: np.ndarray, fpr: float
                          ) -> dict[str, dict[str, Any]]:
    """`split_figures` of every model of a scores table (`can_scores`: split, window, label,
    model, score)."""
    out = {}
    for model, rows in scores.groupby("model", sort=False):
        val = rows[rows["split"] == "val"]
        test = rows[rows["split"] == "test"].sort_values("window")
        out[str(model)] = split_figures(val["score"].to_numpy(), val["label"].to_numpy(),
                                        test["score"].to_numpy(), test["label"].to_numpy(),
                                        splits, fpr)
    return out


def vehicle_split_table(figures: Mapping[str, Mapping[str, Any]]) -> pd.DataFrame:
    """One row per model and split: window counts, macro-F1, the detection rate at the
    validation false-positive rate (`detection_at_fpr_<fpr>`), the false-positive rate it gives
    on the split's normal windows, AUROC."""
    return pd.DataFrame([
        {"model": model, "split": name, "n_normal": v["n_normal"], "n_attack": v["n_attack"],
         "macro_f1": v["macro_f1"], f"detection_at_fpr_{f['fpr']}": v["detection_rate"],
         "test_fpr": v["false_positive_rate"], "auroc": v["auroc"]}
        for model, f in figures.items() for name, v in f["splits"].items()])


def known_and_unknown(windows: pd.DataFrame) -> dict[str, list[str]]:
    """The vehicles of the windows table with training windows (`known`) and without."""
    known = set(windows.loc[windows["split"] == "train", "vehicle"])
    return {"known": sorted(known), "unknown": sorted(set(windows["vehicle"]) - known)}
