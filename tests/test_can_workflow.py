"""The CAN track end to end through Snakemake on the tiny data, and a resumed training rule."""

from __future__ import annotations

import json

import pytest

from tests.conftest import run_snakemake

METRICS = "results/can/classifier/metrics.json"


@pytest.mark.workflow
def test_can_track_end_to_end_and_resume(tmp_path):
    run_snakemake(tmp_path, METRICS)
    metrics = json.loads((tmp_path / METRICS).read_text())
    assert set(metrics["models"]) == {"teacher", "gat_small_kd", "mlp_kd", "mlp_scratch"}
    assert metrics["classes"] == ["normal", "dos", "fuzzy", "spoofing"]
    for entry in metrics["models"].values():
        for key in ("accuracy", "macro_f1", "precision", "recall", "auroc_ovr", "params",
                    "confusion_matrix", "latency_batch1_ms", "latency_batched_ms",
                    "speedup_vs_teacher"):
            assert key in entry
        assert sum(map(sum, entry["confusion_matrix"])) == metrics["test_windows"]
    assert metrics["summary"]["student"] == "mlp_kd"
    assert (tmp_path / "results/can/classifier/confusion.svg").read_text().startswith("<?xml")
    checkpoint = tmp_path / "results/can/checkpoints/classifier/teacher/latest.json"
    assert checkpoint.exists()

    # a rerun of the training rule resumes from its checkpoint instead of training again
    run_snakemake(tmp_path, "results/can/classifier/models/teacher.safetensors", "--forcerun",
                  "can_train_teacher", "--until", "can_train_teacher")
    log = (tmp_path / "results/can/logs/can_train_teacher.log").read_text()
    assert "resuming after epoch 2" in log
    assert "epoch 1 |" not in log
