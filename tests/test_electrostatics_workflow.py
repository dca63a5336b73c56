"""The electrostatics rules of the shared tiny run on the shipped PySCF labels of ethanol: the
dataset ingests by shape, the teacher and the distilled student train with a train-vs-val line
per epoch, and the evaluation writes the metrics record and its figures. Regenerating the
shipped labels (`es_reference`) is in the DAG on request only."""

from __future__ import annotations

import pandas as pd
import pytest

from distillery.data.frames import read_frames
from distillery.io import read_json
from distillery.metrics.record import read_metrics
from tests.conftest import run_snakemake

pytestmark = pytest.mark.workflow
ES = "results/mol_esp/electrostatics"


def test_electrostatics_rules_write_the_record_figures_and_histories(tiny_run):
    frames = read_frames(tiny_run / "results/mol_esp/data/frames.parquet")
    assert len(frames) == 200 and frames.extras["esp"].shape == (200, 300)
    assert frames.extras["esp_grid"].shape == (200, 300, 3)
    record = read_metrics(tiny_run / ES / "metrics.json")
    assert record.track == "electrostatics"
    assert [m.model for m in record.models] == [
        "reference_charges", "per_frame_fit", "teacher", "student"]
    fit = next(m for m in record.models if m.model == "per_frame_fit")
    # charges fitted to each frame's own HF ESP: about 1 kcal/mol/e on ethanol
    assert 0.5 < fit.primary.value < 1.5 and fit.metrics["dipole_mae"] < 0.1
    student = next(m for m in record.models if m.model == "student")
    assert student.metrics["speedup_vs_teacher"] > 0 and "esp_rmse_vs_teacher" in student.metrics
    for name in ("esp_parity", "dipole_parity", "esp_error_surface"):
        assert (tiny_run / ES / f"figures/{name}.png").stat().st_size > 10_000
    for model in ("teacher", "student"):
        history = pd.read_csv(tiny_run / ES / f"{model}/history.csv")
        assert list(history["epoch"]) == [1, 2] and "diff_pct_esp_rmse" in history
        log = (tiny_run / f"results/mol_esp/logs/es_train_{model}.log").read_text()
        assert "epoch 2 | esp_rmse train" in log and "%)" in log
    assert read_json(tiny_run / ES / "student/train_info.json")["train_frames"] == 280
    assert "goal student: esp_rmse_ratio_vs_fit <= 1.5" in (
        tiny_run / "results/mol_esp/logs/es_evaluate.log").read_text()


def test_reference_labels_are_rebuilt_on_request_only(tiny_run):
    default = run_snakemake(tiny_run, "-n")
    assert "es_reference" not in default.stdout
    asked = run_snakemake(tiny_run, "-n", "data/raw/esp/mol_esp.npz")
    assert "rule es_reference:" in asked.stdout
    assert "results/mol/data/frames.parquet" in asked.stdout
