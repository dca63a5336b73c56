"""The CAN track end to end through Snakemake on the tiny data, and a resumed training rule."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from distillery.can.metrics import macro_f1, precision_recall_f1
from distillery.can.settings import CANGoalSettings
from distillery.can.vehicles import FOUR_SPLITS, KNOWN_VEHICLE
from distillery.metrics.record import read_metrics
from tests.conftest import copy_run, run_snakemake

METRICS = "results/can/classifier/metrics.json"


@pytest.mark.workflow
def test_can_track_end_to_end_and_resume(tiny_run, tmp_path):
    tmp_path = copy_run(tiny_run, tmp_path / "copy")
    record = read_metrics(tmp_path / METRICS)
    models = {m.model: m for m in record.models if m.role not in ("anomaly", "fusion")}
    assert set(models) == {"teacher", "gat_small_kd", "mlp_kd", "mlp_scratch",
                           "gat_small_scratch"}
    assert [models[m].role for m in ("teacher", "mlp_kd", "mlp_scratch")] == [
        "teacher", "student", "baseline"]
    # the seed repeat of the small GAT (tiny: 2 seeds) is scored, in the seeds summary, and
    # has no record; the KD student carries the seed goals
    seeds = record.summary["seeds"]
    assert seeds["kd"]["models"] == ["gat_small_kd", "gat_small_kd_rep1"]
    assert seeds["scratch"]["seeds"] == [0, 1] and seeds["teacher"]["seeds"] == [0]
    assert len(seeds["kd"]["macro_f1_seen"]["values"]) == 2
    assert seeds["kd"]["auroc_masquerade"]["std"] >= 0.0
    assert [g.name for g in models["gat_small_kd"].goals] == ["seeds_f1_gap",
                                                              "seeds_kd_over_scratch_stds"]
    # the payload model, trained on normal windows only, carries the unseen-attack goals
    payload = next(m for m in record.models if m.role == "anomaly")
    assert payload.model == "payload" and payload.primary.name == "min_auroc"
    assert [g.name for g in payload.goals] == ["unseen_detection_masquerade",
                                               "unseen_auroc_masquerade"]
    assert record.summary["classes"] == ["normal", "dos", "masquerade", "spoofing"]
    # the IDS figures of every scored model and fusion; masquerade was never trained on
    assert set(record.summary["ids"]) == {*models, "gat_small_kd_rep1", "gat_small_scratch_rep1",
                                          "vgae", "vgae_student", "payload", "stacking", "dqn"}
    assert record.summary["held_out"] == ["masquerade"]
    for figures in record.summary["ids"].values():
        assert set(figures["thresholds"]) == {"0.01", "0.001"}
        for attack in figures["attacks"].values():
            assert 0.0 <= attack["detection_rate"]["0.01"] <= 1.0
    assert (tmp_path / "results/can/classifier/detection.svg").read_text().startswith("<?xml")
    # the four vehicle/attack splits: vehicle b (test data only) is the unknown vehicle, its
    # windows are in no other figure; the stacking fusion carries the split goals
    splits = record.summary["vehicle_splits"]
    assert splits["vehicles"] == {"known": ["a"], "unknown": ["b"]}
    assert set(splits["models"]) == set(record.summary["ids"])
    stacking = splits["models"]["stacking"]["splits"]
    assert list(stacking) == list(FOUR_SPLITS)
    assert all(s["n_normal"] > 0 and s["n_attack"] > 0 for s in stacking.values())
    assert sum(stacking[s]["n_normal"] + stacking[s]["n_attack"] for s in KNOWN_VEHICLE) \
        == record.summary["n_windows"]
    # operating points: the 60 s attack-free capture streamed through the fused detectors
    points = record.summary["operating_points"]
    assert points["fprs"] == [0.01, 0.001, 0.0001]
    assert set(points["models"]) == {"teacher", "vgae", "payload", "stacking", "dqn"}
    assert points["calibration_windows"] + points["evaluation_windows"] < points["windows"]
    assert len(pd.read_csv(tmp_path / "results/can/classifier/operating_points.csv")) == 30
    fusion = next(m for m in record.models if m.model == "stacking")
    assert fusion.role == "fusion"
    assert [g.name for g in fusion.goals] == [f"macro_f1_{s}" for s in FOUR_SPLITS]
    table = pd.read_csv(tmp_path / "results/can/classifier/vehicle_splits.csv")
    assert len(table) == 4 * len(splits["models"])
    for entry in models.values():
        for key in ("accuracy", "precision", "recall", "auroc_ovr", "confusion_matrix",
                    "latency_batch1_ms", "latency_batched_ms", "speedup_vs_teacher"):
            assert key in entry.metrics
        counts = np.array(entry.metrics["confusion_matrix"])
        assert counts.sum() == record.summary["n_windows"]
        # the headline is the macro-F1 of the model's own confusion matrix (classes present)
        present = (counts.sum(0) + counts.sum(1)) > 0
        assert entry.primary.name == "macro_f1"
        assert entry.primary.value == pytest.approx(
            precision_recall_f1(counts)[2][present].mean())
    # learned, not guessed: the teacher beats always answering the test set's largest class ...
    counts = np.array(models["teacher"].metrics["confusion_matrix"])
    labels = np.repeat(np.arange(len(counts)), counts.sum(1))
    majority = macro_f1(labels, np.full_like(labels, np.bincount(labels).argmax()), len(counts))
    assert models["teacher"].primary.value > majority + 0.1
    # ... and flags the DoS flood far above the 1% of normal windows its threshold lets through
    teacher_ids = record.summary["ids"]["teacher"]
    dos = teacher_ids["attacks"]["dos"]["detection_rate"]["0.01"]
    assert dos >= 0.5 and dos - teacher_ids["fpr"]["0.01"] >= 0.4
    goals = {g.name: g for g in models["mlp_kd"].goals}
    gap = models["teacher"].primary.value - models["mlp_kd"].primary.value
    assert goals["f1_gap"].value == pytest.approx(gap)
    assert goals["f1_gap"].passed == (gap <= CANGoalSettings().max_f1_gap)
    assert (tmp_path / "results/can/classifier/confusion.svg").read_text().startswith("<?xml")
    checkpoint = tmp_path / "results/can/checkpoints/classifier/teacher/latest.json"
    assert checkpoint.exists()

    # a rerun of the training rule resumes from its checkpoint instead of training again
    run_snakemake(tmp_path, "results/can/classifier/models/teacher.safetensors", "--forcerun",
                  "can_train", "--until", "can_train")
    log = (tmp_path / "results/can/logs/can_train_teacher.log").read_text()
    assert "resuming after epoch 2" in log
    assert "epoch 1 |" not in log
