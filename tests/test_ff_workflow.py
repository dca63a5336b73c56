"""The force-field rules end to end on the tiny config: teacher -> distilled student ->
evaluation, and a rerun of a deleted training output resumes from its checkpoint."""

from __future__ import annotations

import pandas as pd
import pytest

from distillery.io import read_json
from tests.conftest import run_snakemake

pytestmark = pytest.mark.workflow
TARGET = "results/md/forcefield/metrics.json"


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    path = tmp_path_factory.mktemp("ff_workflow")
    run_snakemake(path, TARGET)
    return path


def test_metrics_cover_teacher_student_and_baseline(workdir) -> None:
    metrics = read_json(workdir / TARGET)
    assert set(metrics["models"]) == {"teacher", "student", "baseline"}
    for name, entry in metrics["models"].items():
        for key in ("energy_mae_per_atom", "energy_rmse_per_atom", "force_mae", "force_rmse",
                    "force_r2", "force_angle_mean_deg", "force_error_p90", "force_error_p95",
                    "force_error_max", "n_params", "frames_per_s", "atoms_per_s"):
            assert entry[key] == entry[key], f"{name}.{key} is NaN"
        assert entry["force_error_p90"] <= entry["force_error_p95"] <= entry["force_error_max"]
        figures = workdir / "results/md/forcefield/figures"
        assert (figures / f"parity_{name}.png").stat().st_size > 0
        assert (figures / f"errors_{name}.png").stat().st_size > 0
    teacher, student = metrics["models"]["teacher"], metrics["models"]["student"]
    assert metrics["speedup_student_vs_teacher"] == pytest.approx(
        student["frames_per_s"] / teacher["frames_per_s"])
    assert student["n_params"] < teacher["n_params"]
    assert metrics["device"]["platform"] == "cpu"
    history = pd.read_parquet(workdir / "results/md/forcefield/teacher/history.parquet")
    assert list(history["epoch"]) == [1, 2]
    info = read_json(workdir / "results/md/forcefield/student/train_info.json")
    assert info["role"] == "student" and info["batch_size"] == 4
    distill = workdir / "results/md/forcefield/distill_set.parquet"
    assert pd.read_parquet(distill, columns=["augmentation"])["augmentation"].nunique() == 3


def test_rerun_resumes_from_checkpoint_outside_the_outputs(workdir) -> None:
    baseline = workdir / "results/md/forcefield/baseline"
    before = read_json(baseline / "train_info.json")
    (baseline / "model.npz").unlink()
    # a missing intermediate alone does not make Snakemake rebuild it: ask for it by name
    run_snakemake(workdir, "results/md/forcefield/baseline/model.npz")
    log = (workdir / "results/md/logs/ff_baseline.log").read_text()
    assert "resuming from" in log and "after epoch 2" in log
    after = read_json(baseline / "train_info.json")
    assert after["final_step"] == before["final_step"]
