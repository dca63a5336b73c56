"""The force-field rules end to end on the tiny config: teacher -> distilled student ->
evaluation, and a rerun of a deleted training output resumes from its checkpoint."""

from __future__ import annotations

import math

import matplotlib.pyplot as plt
import pandas as pd
import pytest

from distillery.forcefield.settings import FFGoalSettings
from distillery.io import read_json
from distillery.metrics.record import read_metrics
from tests.conftest import copy_run, run_snakemake

pytestmark = pytest.mark.workflow
TARGET = "results/md/forcefield/metrics.json"


@pytest.fixture(scope="module")
def workdir(tiny_run):
    return tiny_run


def test_metrics_cover_the_teacher_both_students_and_the_baseline(workdir) -> None:
    record = read_metrics(workdir / TARGET)
    models = {m.model: m for m in record.models}
    # tiny.yaml adds the size `small` to md, without a baseline of its own
    assert record.track == "forcefield" and [(m.model, m.role) for m in record.models] == [
        ("teacher", "teacher"), ("student", "student"), ("student_small", "student"),
        ("baseline", "baseline")]
    for name, entry in models.items():
        assert entry.device == "cpu"
        assert entry.primary.name == "force_mae" and entry.primary.direction == "minimize"
        figures = entry.metrics
        for key in ("energy_mae_per_atom", "energy_rmse_per_atom", "force_rmse", "force_r2",
                    "force_angle_mean_deg", "force_error_p90", "force_error_p95",
                    "force_error_max", "atoms_per_s", "frames_per_s_batch1",
                    "frames_per_s_batch4"):
            assert math.isfinite(figures[key]), f"{name}.{key} is not finite"
        assert 0 < entry.primary.value <= figures["force_rmse"] <= figures["force_error_max"]
        assert figures["force_error_p90"] <= figures["force_error_p95"] <= figures[
            "force_error_max"]
        assert entry.throughput.unit == "frames/s" and entry.throughput.value > 0
        # the headline is end to end through the model's ASE calculator; the model alone
        # on prepared inputs is kept beside it
        assert figures["calculator"] == "ModelCalculator" and figures["batch_size"] == 1
        assert figures["frames_per_s_model_only"] > 0
    for kind in ("parity", "errors", "pareto"):
        image = plt.imread(workdir / f"results/md/forcefield/figures/{kind}.png")
        assert image.shape[0] > 100 and image.shape[1] > 100 and image.std() > 0
    small = models["student_small"]
    assert small.n_params < models["student"].n_params
    assert {g.name for g in small.goals} == {"speedup", "force_mae_ratio"}
    assert math.isfinite(small.metrics["force_mae_vs_teacher"])
    assert "force_mae_ratio_vs_baseline" in models["student"].metrics
    assert "force_mae_ratio_vs_baseline" not in small.metrics
    teacher, student = models["teacher"], models["student"]
    speedup = student.throughput.value / teacher.throughput.value
    assert record.summary["speedup_student_vs_teacher"] == pytest.approx(speedup)
    assert record.summary["throughput_interface"].startswith("end to end through each model's")
    assert student.n_params < teacher.n_params
    # goals come from the settings' defaults and are judged on the student's own figures
    goals = {g.name: g for g in student.goals}
    defaults = FFGoalSettings()
    assert goals["speedup"].threshold == defaults.min_speedup
    assert goals["speedup"].passed == (speedup >= defaults.min_speedup)
    ratio = student.primary.value / teacher.primary.value
    assert goals["force_mae_ratio"].value == pytest.approx(ratio)
    assert goals["force_mae_ratio"].passed == (ratio <= defaults.max_force_mae_ratio)
    vs_baseline = student.primary.value / models["baseline"].primary.value
    assert goals["force_mae_ratio_vs_baseline"].value == pytest.approx(vs_baseline)
    assert goals["force_mae_ratio_vs_baseline"].passed == (
        vs_baseline <= defaults.max_baseline_ratio)
    history = pd.read_parquet(workdir / "results/md/forcefield/teacher/history.parquet")
    assert list(history["epoch"]) == [1, 2]
    info = read_json(workdir / "results/md/forcefield/student/train_info.json")
    assert info["role"] == "student" and info["batch_size"] == 4
    distill = workdir / "results/md/forcefield/distill_set.parquet"
    kinds = pd.read_parquet(distill, columns=["augmentation"])["augmentation"]
    assert kinds.nunique() == 3
    # every student records the distillation set it learnt from
    info = read_json(workdir / "results/md/forcefield/student_small/train_info.json")
    assert info["distill"]["frames"] == len(kinds) and info["epochs_run"] == 2


@pytest.mark.parametrize("dataset", ["md", "mol"])
def test_every_model_states_its_steps_and_baselines_get_their_students(workdir, dataset) -> None:
    models = {m.model: m.metrics["training"]
              for m in read_metrics(workdir / f"results/{dataset}/forcefield/metrics.json").models}
    if dataset == "mol":  # GFN2-xTB: an ASE teacher, not trained here
        assert models.pop("teacher") == {"optimizer_steps": None, "stopped_early": None}
    for name, training in models.items():
        info = read_json(workdir / f"results/{dataset}/forcefield/{name}/train_info.json")
        assert training["optimizer_steps"] == info["final_step"] > 0, name
        assert training["optimizer_steps"] == training["epochs_run"] * training["steps_per_epoch"]
        assert isinstance(training["stopped_early"], bool)
        assert training["epochs_run"] == training["epoch_budget"] or training["stopped_early"]
    student, baseline = models["student"], models["baseline"]
    # the baseline's budget: the fewest whole epochs that give it its student's steps
    assert baseline["student_steps"] == student["optimizer_steps"]
    assert baseline["epoch_budget"] == math.ceil(student["optimizer_steps"]
                                                 / baseline["steps_per_epoch"])
    assert (baseline["optimizer_steps"] >= student["optimizer_steps"]
            or baseline["stopped_early"])


def test_every_student_has_a_model_card_from_the_metrics_record(workdir) -> None:
    cards = workdir / "results/md/forcefield/cards"
    assert sorted(p.name for p in cards.iterdir()) == ["student.md", "student_small.md"]
    models = {m.model: m for m in read_metrics(workdir / TARGET).models}
    for name in ("student", "student_small"):
        card = (cards / f"{name}.md").read_text().splitlines()
        assert card[0] == f"# {name}: distilled force field of `md`"
        assert f"| parameters | {models[name].n_params:,} |" in card
        rows = card[card.index(f"| timed | {name} | teacher | speed-up |") + 2:][:3]
        assert [row.split(" | ")[0] for row in rows] == [
            "| end to end (ASE calculator, one structure per call)", "| model alone, batch 1",
            "| model alone, batch 4"]
        assert card[-1].startswith("**Fit for:** ")
    student = (cards / "student.md").read_text()
    assert "stable in every run" in student or "unstable: " in student  # md_stability ran it
    small = (cards / "student_small.md").read_text()
    assert "Not run: add `student_small` to `forcefield.md_stability.models`" in small
    assert "no baseline was trained for this student" in small


def test_rerun_resumes_from_checkpoint_outside_the_outputs(workdir, tmp_path) -> None:
    workdir = copy_run(workdir, tmp_path / "copy")
    baseline = workdir / "results/md/forcefield/baseline"
    before = read_json(baseline / "train_info.json")
    (baseline / "model.npz").unlink()
    # a missing intermediate alone does not make Snakemake rebuild it: ask for it by name
    run_snakemake(workdir, "results/md/forcefield/baseline/model.npz")
    log = (workdir / "results/md/logs/ff_train_baseline.log").read_text()
    assert "resuming from" in log and f"after epoch {before['epochs_run']}" in log
    after = read_json(baseline / "train_info.json")
    assert after["final_step"] == before["final_step"]
