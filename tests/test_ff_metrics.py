"""Shared energy/force metrics against hand-computed answers; the Pareto front of force MAE
against frames/s; plots are written."""

from __future__ import annotations

import numpy as np
import pytest

from distillery.forcefield.pareto import dominators, pareto_front
from distillery.forcefield.plots import error_histogram, pareto_plot, parity_plot
from distillery.metrics.regression import angular_errors, energy_metrics, force_metrics


def test_energy_metrics_are_per_atom() -> None:
    out = energy_metrics(np.array([1.0, -2.0]), np.array([0.0, 0.0]), np.array([2, 4]))
    assert out["energy_mae_per_atom"] == pytest.approx(0.5)
    assert out["energy_rmse_per_atom"] == pytest.approx(0.5)


def test_force_metrics_known_answers() -> None:
    ref = np.array([[1.0, 0.0, 0.0], [0.0, 2.0, 0.0], [0.0, 0.0, -1.0], [1.0, 1.0, 0.0]])
    pred = ref.copy()
    pred[0] = [0.0, 1.0, 0.0]  # rotated by 90 degrees: error norm sqrt(2)
    out = force_metrics(pred, ref)
    assert out["force_mae"] == pytest.approx(2.0 / 12)
    assert out["force_rmse"] == pytest.approx(np.sqrt(2.0 / 12))
    assert out["force_angle_mean_deg"] == pytest.approx(90.0 / 4)
    assert out["force_error_max"] == pytest.approx(np.sqrt(2))
    assert out["force_error_p95"] == pytest.approx(np.percentile([np.sqrt(2), 0, 0, 0], 95))
    ss_tot = np.sum((ref - ref.mean(0)) ** 2)
    assert out["force_r2"] == pytest.approx(1 - 2.0 / ss_tot)
    perfect = force_metrics(ref, ref)
    assert perfect["force_r2"] == 1.0 and perfect["force_error_max"] == 0.0


def test_angular_error_skips_zero_vectors_and_handles_opposites() -> None:
    ref = np.array([[1.0, 0, 0], [0, 0, 0], [0, 3.0, 0]])
    pred = np.array([[-2.0, 0, 0], [1.0, 0, 0], [0, 1.0, 0]])
    np.testing.assert_allclose(angular_errors(pred, ref), [180.0, 0.0])


def test_plots_are_written(tmp_path) -> None:
    rng = np.random.default_rng(0)
    f_ref = rng.normal(size=(50, 3))
    predictions = {name: (rng.normal(size=5), f_ref + rng.normal(scale=scale, size=f_ref.shape))
                   for name, scale in (("teacher", 0.05), ("student", 0.1))}
    parity_plot(tmp_path / "parity.png", rng.normal(size=5), f_ref, predictions)
    error_histogram(tmp_path / "errors.svg", f_ref, {n: f for n, (_, f) in predictions.items()})
    assert (tmp_path / "parity.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    errors = (tmp_path / "errors.svg").read_text()
    assert "<svg" in errors[:1000] and "teacher (95th" in errors and "student (95th" in errors


def test_pareto_plot_labels_every_model_and_notes_a_zero_error_teacher(tmp_path) -> None:
    path = tmp_path / "pareto.svg"
    pareto_plot(path, {"teacher": (50.0, 0.0), "student": (2000.0, 0.02),
                       "student_small": (5000.0, 0.04), "baseline": (1900.0, 0.03)},
                "frames/s end to end")
    svg = path.read_text()
    assert all(name in svg for name in ("student_small", "baseline", "Pareto front",
                                        "end to end"))
    assert "not drawn (zero or no value): teacher" in svg


def test_pareto_front_keeps_the_models_no_other_beats_on_both_fastest_first() -> None:
    points = {"teacher": (50.0, 0.040), "student": (600.0, 0.048),
              "baseline": (610.0, 0.090), "student_small": (2000.0, 0.100),
              "slow": (40.0, 0.050)}
    assert pareto_front(points) == ["student_small", "baseline", "student", "teacher"]
    assert dominators(points, "slow") == ["teacher", "student"]
    assert dominators(points, "baseline") == []  # a little faster than the student
    points["baseline"] = (600.0, 0.090)  # as fast as the student, less accurate: dominated
    assert dominators(points, "baseline") == ["student"]
    assert "baseline" not in pareto_front(points)


def test_pareto_front_ties_zero_error_and_missing_values() -> None:
    points = {"a": (100.0, 0.02), "b": (100.0, 0.02), "reference": (10.0, 0.0),
              "untimed": (None, 0.001)}
    assert pareto_front(points) == ["a", "b", "reference"]  # equal points dominate neither
    assert dominators(points, "untimed") == []  # compared with none, and never on the front


def _figures(force_mae: float, frames_per_s: float) -> dict[str, float]:
    return {"force_mae": force_mae, "frames_per_s": frames_per_s}


@pytest.mark.parametrize("teacher_type", ["model", "reference", "foundation"])
def test_the_teacher_type_decides_the_student_goals(teacher_type: str) -> None:
    from distillery.forcefield.record import forcefield_metrics
    from distillery.forcefield.settings import FFGoalSettings

    # a reference or foundation teacher scores ~0 against the labels it wrote itself
    teacher_mae = 0.05 if teacher_type == "model" else 2e-5
    models = {"teacher": _figures(teacher_mae, 100.0), "student": _figures(0.06, 2000.0),
              "baseline": _figures(0.08, 2000.0)}
    record = forcefield_metrics("mol", models, FFGoalSettings(), "cpu", n_frames=10,
                                teacher_type=teacher_type)
    student = next(m for m in record.models if m.model == "student")
    goals = {g.name: g for g in student.goals}
    assert goals["speedup"].value == pytest.approx(20.0) and goals["speedup"].passed
    assert goals["force_mae_ratio_vs_baseline"].value == pytest.approx(0.75)
    assert record.summary["teacher_type"] == teacher_type
    if teacher_type == "model":
        assert goals["force_mae_ratio"].value == pytest.approx(1.2)
        assert student.metrics["force_mae_ratio_vs_teacher"] == pytest.approx(1.2)
    else:  # no 3000x ratio to a zero-error teacher
        assert "force_mae_ratio" not in goals
        assert student.metrics["force_mae_ratio_vs_teacher"] is None
    if teacher_type == "foundation":
        assert goals["force_mae_vs_foundation"].value == pytest.approx(0.06)
        assert not goals["force_mae_vs_foundation"].passed  # goal <= 0.05 eV/Å
    else:
        assert "force_mae_vs_foundation" not in goals


def test_a_student_of_several_seeds_checks_the_mean_ratio_to_its_baselines() -> None:
    from distillery.forcefield.record import forcefield_metrics
    from distillery.forcefield.settings import FFGoalSettings

    models = {"teacher": _figures(0.03, 100.0),
              "student": _figures(0.06, 2000.0), "baseline": _figures(0.08, 2000.0),
              "student_seed1": _figures(0.09, 2000.0), "baseline_seed1": _figures(0.10, 2000.0),
              "student_seed2": _figures(0.07, 2000.0), "baseline_seed2": _figures(0.07, 2000.0)}
    group = ("student", "student_seed1", "student_seed2")
    record = forcefield_metrics("mol", models, FFGoalSettings(), "cpu", n_frames=10,
                                seed_groups={"student": group})
    by_name = {m.model: m for m in record.models}
    ratios = np.array([0.75, 0.9, 1.0])
    student = by_name["student"]
    assert student.metrics["n_seeds"] == 3
    assert student.metrics["force_mae_ratio_vs_baseline"] == pytest.approx(0.75)  # its own seed
    assert student.metrics["force_mae_ratio_vs_baseline_mean"] == pytest.approx(ratios.mean())
    assert student.metrics["force_mae_ratio_vs_baseline_std"] == pytest.approx(
        ratios.std(ddof=1))
    assert student.metrics["baseline_force_mae_mean"] == pytest.approx(0.25 / 3)
    goals = {g.name: g for g in student.goals}
    # the seed-0 ratio alone (0.75) would pass; the mean (0.883) misses the 0.85 goal
    assert "force_mae_ratio_vs_baseline" not in goals
    assert not goals["force_mae_ratio_vs_baseline_mean"].passed
    assert record.summary["force_mae_ratio_student_vs_baseline_std"] == pytest.approx(
        ratios.std(ddof=1))
    assert by_name["student_seed1"].goals == () and by_name["student_seed2"].role == "student"
