"""Model cards built from a metrics record, a train_info.json and an MD stability summary:
numbers in, the expected lines out."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from distillery.forcefield.cards import model_card
from distillery.forcefield.record import forcefield_metrics
from distillery.forcefield.settings import FFGoalSettings
from tests.metrics_inputs import ff_model

TRAINING = {"epochs_run": 20, "epochs": 20, "best_epoch": 8, "batch_size": 4, "final_step": 3800,
            "steps_per_epoch": 190, "stopped_early": False,
            "distill": {"frames": 42, "original": 20, "displaced": 20, "teacher_md": 2,
                        "teacher_weight": 1.0, "hvp": False}}
MD = {"settings": {"starts": 1, "steps": 500, "timestep_fs": 2.0, "temperature": 800.0},
      "models": {"student": {
          "all_stable": True, "max_abs_nve_drift_eV_per_atom_per_ps": 1.2e-6,
          "rdf_l1_vs_reference_A": 0.05,
          "runs": [{"ensemble": "nve", "start_frame": 3, "stable": True,
                    "time_to_instability_ps": None, "instability": None},
                   {"ensemble": "langevin", "start_frame": 3, "stable": True,
                    "time_to_instability_ps": None, "instability": None}]}}}


def _timed(force_mae: float, speeds: tuple[float, float, float], n_params: int
           ) -> dict[str, Any]:
    """A model's figures with frames/s of the model alone at batch 1, 8 and 64; end to end
    (the headline) a tenth of the last."""
    figures = ff_model(force_mae, speeds[-1] / 10, n_params)
    figures["config"] |= {"n_rbf": 8}
    return figures | {f"frames_per_s_batch{b}": s for b, s in zip((1, 8, 64), speeds,
                                                                    strict=True)}


def _models() -> dict[str, dict[str, Any]]:
    # student: 12x the teacher at batch 64, force MAE 1.2x: both goals met;
    # student_small: 40x, 2.5x the teacher's MAE: misses the accuracy goal
    return {"teacher": _timed(0.040, (20.0, 40.0, 50.0), 200_000),
            "student": _timed(0.048, (100.0, 400.0, 600.0), 10_000),
            "student_small": _timed(0.100, (400.0, 1000.0, 2000.0), 1_000),
            "baseline": _timed(0.090, (100.0, 400.0, 610.0), 10_000) | {"training": {
                "optimizer_steps": 1440, "stopped_early": True, "epochs_run": 24,
                "epoch_budget": 64, "best_epoch": 14, "steps_per_epoch": 60,
                "student_steps": 3800}}}


def _card(models: dict[str, dict[str, Any]], model: str, md: dict | None = MD,
          teacher_type: str = "model") -> list[str]:
    record = forcefield_metrics("md", models, FFGoalSettings(), "cpu", n_frames=30,
                                teacher_type=teacher_type)
    return model_card(record, model, TRAINING, md, 800.0).splitlines()


def test_card_of_a_student_that_meets_every_goal_and_is_stable():
    lines = _card(_models(), "student")
    assert lines[0] == "# student: distilled force field of `md`"
    assert "| parameters | 10,000 |" in lines
    assert "| file size | 40,512 bytes (39.6 KiB) |" in lines
    assert "| on the Pareto front (force MAE against frames/s) | yes |" in lines
    assert lines[lines.index("| timed | student | teacher | speed-up |") + 2:][:4] == [
        "| end to end (ASE calculator, one structure per call) | 60 | 5 | 12x |",
        "| model alone, batch 1 | 100 | 20 | 5x |", "| model alone, batch 8 | 400 | 40 | 10x |",
        "| model alone, batch 64 | 600 | 50 | 12x |"]
    assert any(line.startswith("End to end, each call hands a model's ASE calculator one "
                               "structure") and "student runs at 12x the teacher's speed" in line
               for line in lines)
    assert "| student | reference | 0.048 | 2.4 |" in lines  # energy MAE = force MAE / 20
    assert "| teacher | reference | 0.04 | 2 |" in lines
    assert ("| baseline (same architecture, reference labels only) | reference | 0.09 | 4.5 |"
            in lines)
    assert "Force MAE 1.2x the teacher's, 0.533x its baseline's." in lines
    assert any(line.startswith("2 runs (NVE and Langevin from 1 test structure(s)), 500 steps "
                               "of 2 fs at 800 K: stable in every run; largest NVE energy "
                               "drift 1.2e-06 eV/atom/ps") for line in lines)
    assert ("Distillation set of 42 frames: 20 training frames, 20 displaced copies and 2 "
            "frames of teacher-driven MD, labelled by the teacher (target on the training "
            "frames: 1 x teacher + 0 x reference); Hessian-vector-product targets: no."
            in lines)
    assert ("Trained 3,800 optimizer steps, 20 of 20 epochs (best epoch 8), ran its whole "
            "budget; batch size 4." in lines)
    assert ("Its baseline (baseline) trained 1,440 optimizer steps, 24 of 64 epochs (best epoch "
            "14), stopped early: its validation loss no longer improved; its budget was the "
            "fewest epochs that give it at least the student's 3,800 optimizer steps." in lines)
    assert "- speedup >= 10: met (12)" in lines
    assert "- force_mae_ratio <= 1.25: met (1.2)" in lines
    assert lines[-1] == ("**Fit for:** production MD of this system at 800 K: meets the speed "
                         "and accuracy goals and stayed stable in every MD run.")


def test_card_of_a_student_without_md_baseline_or_accuracy():
    lines = _card(_models(), "student_small")
    assert "| on the Pareto front (force MAE against frames/s) | yes |" in lines
    assert "Force MAE 2.5x the teacher's; no baseline was trained for this student." in lines
    assert ("Not run: add `student_small` to `forcefield.md_stability.models` to run it."
            in lines)
    assert lines[-1] == ("**Fit for:** fast screening or sampling whose frames the teacher "
                         "relabels, not production MD: misses the accuracy goal (2.5x the "
                         "teacher's force MAE, goal <= 1.25x).")


def test_card_fit_for_follows_speed_and_md_stability():
    models = _models()
    models["student"]["frames_per_s"] = 15.0  # 3x the teacher: misses the speed goal
    lines = _card(models, "student")
    assert lines[-1] == ("**Fit for:** not recommended over the teacher: misses the speed "
                         "goal (3x the teacher's frames/s, goal >= 10x).")
    unstable = copy.deepcopy(MD)
    entry = unstable["models"]["student"]
    entry["all_stable"] = False
    entry["runs"][1].update(stable=False, time_to_instability_ps=0.42, instability="bond")
    lines = _card(_models(), "student", unstable)
    assert any(line.endswith("unstable: langevin from test frame 3 at 0.42 ps (bond).")
               for line in lines)
    assert lines[-1] == ("**Fit for:** fast screening or sampling whose frames the teacher "
                         "relabels, not production MD: went unstable in MD at 800 K.")
    lines = _card(_models(), "student", md=None)  # goals met, MD not run
    assert lines[-1].startswith("**Fit for:** production MD of this system at 800 K once an "
                                "MD stability run confirms it (not run: add `student`")


# `mol`'s teacher is GFN2-xTB, the method that labelled the reference: scored against the
# stored labels its force MAE is round-off, about 1e-5 eV/Å, never exactly zero
SURROGATE_FORCE_MAE = 1.2e-5


def _surrogate_card() -> list[str]:
    models = _models()
    models["teacher"] |= {"force_mae": SURROGATE_FORCE_MAE,
                          "energy_mae_per_atom": SURROGATE_FORCE_MAE / 20}
    return _card(models, "student", teacher_type="reference")


def test_card_of_a_student_whose_teacher_is_the_reference_method():
    lines = _surrogate_card()
    # every model is scored against the reference, the teacher's round-off error included
    assert "| teacher | reference | 1.2e-05 | 0.0006 |" in lines
    assert "| student | reference | 0.048 | 2.4 |" in lines
    assert ("| baseline (same architecture, reference labels only) | reference | 0.09 | 4.5 |"
            in lines)
    assert "- speedup >= 10: met (12)" in lines


def test_a_teacher_that_is_the_reference_method_gives_no_force_mae_ratio():
    lines = _surrogate_card()
    # neither the accuracy summary nor the goals quote a multiple of the teacher's error
    assert [line for line in lines if "MAE" in line and "x the teacher's" in line] == []
    assert not [line for line in lines if "accuracy goal" in line]
    assert any("surrogate" in line for line in lines)
    # the same card with a trained teacher quotes the ratio
    models = _models()
    models["teacher"] |= {"force_mae": SURROGATE_FORCE_MAE}
    assert [line for line in _card(models, "student") if "x the teacher's" in line]


def test_card_names_the_models_that_dominate_a_student():
    models = _models()
    models["student_small"]["force_mae"] = 0.040  # faster and as accurate as `student`
    lines = _card(models, "student")
    assert ("| on the Pareto front (force MAE against frames/s) | no: student_small at "
            "least as fast and as accurate |") in lines


def test_card_with_a_calculator_teacher_compares_end_to_end_speeds_only():
    models = _models()
    models["teacher"] = {k: v for k, v in models["teacher"].items()
                         if not k.startswith("frames_per_s_batch") and k != "config"}
    models["teacher"] |= {"kind": "TBLite", "source": "ase", "frames_per_s": 20.0,
                          "batch_size": 1, "n_params": None, "size_bytes": None}
    lines = _card(models, "student")
    assert ("Distilled from the teacher (TBLite, source ase); evaluated on the test split "
            "(30 frames, variant default) on cpu.") in lines
    # the same interface for both: 60 against 20 frames/s; the teacher has no model alone
    assert lines[lines.index("| timed | student | teacher | speed-up |") + 2:][:4] == [
        "| end to end (ASE calculator, one structure per call) | 60 | 20 | 3x |",
        "| model alone, batch 1 | 100 | n/a | n/a |", "| model alone, batch 8 | 400 | n/a | n/a |",
        "| model alone, batch 64 | 600 | n/a | n/a |"]
    assert "The teacher is a calculator with no network to time alone." in lines
    assert "- speedup >= 10: missed (3)" in lines


def test_a_card_is_only_for_a_student():
    record = forcefield_metrics("md", _models(), FFGoalSettings(), "cpu", n_frames=30)
    with pytest.raises(ValueError, match="'baseline' is not a student"):
        model_card(record, "baseline", TRAINING, MD, 800.0)
