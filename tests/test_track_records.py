"""Each track's evaluation figures -> the metrics record: roles, headline fields, goals from
the typed settings (passing and failing), non-finite values written as null."""

from __future__ import annotations

import json

import pytest

from distillery.can.record import classifier_metrics
from distillery.can.settings import CANGoalSettings, ClassifierSettings
from distillery.cg.record import cg_metrics
from distillery.cg.settings import CGGoalSettings
from distillery.electrostatics.record import electrostatics_metrics
from distillery.electrostatics.settings import EsGoalSettings
from distillery.forcefield.record import forcefield_metrics, training_figures
from distillery.forcefield.settings import FFGoalSettings
from distillery.metrics.record import read_metrics, write_metrics
from tests.metrics_inputs import (
    CAN_LINEUP,
    CLASSES,
    JAX_CPU,
    can_models,
    cg_modes,
    cg_simulation,
    ff_model,
    ff_models,
)


def _model(record, name):
    return next(m for m in record.models if m.model == name)


# --- force field -----------------------------------------------------------------------------

def test_forcefield_record_lifts_headline_fields_and_keeps_the_rest_under_metrics():
    record = forcefield_metrics("md", ff_models(), FFGoalSettings(), JAX_CPU, n_frames=12)
    assert (record.dataset, record.track, record.split) == ("md", "forcefield", "test")
    assert [(m.model, m.role) for m in record.models] == [
        ("teacher", "teacher"), ("student", "student"), ("baseline", "baseline")]
    student = _model(record, "student")
    assert student.primary.model_dump() == {"name": "force_mae", "value": 0.048,
                                            "direction": "minimize", "unit": "eV/Å"}
    assert (student.throughput.value, student.throughput.unit) == (600.0, "frames/s")
    assert (student.n_params, student.size_bytes, student.device) == (10_000, 40_512, "cpu")
    assert type(student.n_params) is int  # numpy integers unwrapped
    # everything else stays a figure; lifted fields are not repeated
    assert student.metrics["energy_mae_per_atom"] == pytest.approx(0.0024)
    assert student.metrics["atoms_per_s"] == 5400.0
    assert student.metrics["config"]["kind"] == "schnet"
    assert student.metrics["speedup_vs_teacher"] == pytest.approx(12.0)
    assert student.metrics["force_mae_ratio_vs_teacher"] == pytest.approx(1.2)
    assert not {"force_mae", "frames_per_s", "n_params", "size_bytes", "device",
                "role"} & set(student.metrics)
    assert "speedup_vs_teacher" not in _model(record, "teacher").metrics
    assert record.summary["speedup_student_vs_teacher"] == pytest.approx(12.0)
    assert record.summary["force_mae_ratio_student_vs_teacher"] == pytest.approx(1.2)
    assert record.summary["force_mae_ratio_baseline_vs_teacher"] == pytest.approx(2.25)
    assert record.summary["n_frames"] == 12
    assert record.summary["device"]["dtype"] == "float32"


def test_forcefield_goals_are_on_the_student_with_the_settings_thresholds():
    passing = forcefield_metrics("md", ff_models(), FFGoalSettings(), "cpu", n_frames=12)
    assert [(m.model, len(m.goals)) for m in passing.models] == [
        ("teacher", 0), ("student", 3), ("baseline", 0)]
    goals = {g.name: g for g in _model(passing, "student").goals}
    # 0.048 / 0.090 of the baseline's MAE: distillation pays by the default 0.85
    assert goals["force_mae_ratio_vs_baseline"].threshold == 0.85
    assert goals["force_mae_ratio_vs_baseline"].value == pytest.approx(0.048 / 0.090)
    assert goals["force_mae_ratio_vs_baseline"].passed
    assert (goals["speedup"].value, goals["speedup"].threshold) == (pytest.approx(12.0), 10.0)
    assert goals["speedup"].comparison == ">=" and goals["speedup"].passed
    assert goals["force_mae_ratio"].threshold == 1.25
    assert goals["force_mae_ratio"].comparison == "<=" and goals["force_mae_ratio"].passed

    strict = FFGoalSettings(min_speedup=15.0, max_force_mae_ratio=1.1, max_baseline_ratio=0.5)
    failing = forcefield_metrics("md", ff_models(), strict, "cpu", n_frames=12)
    goals = {g.name: g for g in _model(failing, "student").goals}
    assert goals["speedup"].threshold == 15.0 and not goals["speedup"].passed
    assert goals["force_mae_ratio"].threshold == 1.1 and not goals["force_mae_ratio"].passed
    assert not goals["force_mae_ratio_vs_baseline"].passed
    assert [g for _, g in failing.goals() if g.passed] == []


def test_a_trained_teacher_carries_its_own_force_mae_goal_when_one_is_set():
    teacher_mae = ff_models()["teacher"]["force_mae"]
    for limit, passed in ((teacher_mae * 1.01, True), (teacher_mae * 0.99, False)):
        record = forcefield_metrics("md", ff_models(), FFGoalSettings(max_teacher_force_mae=limit),
                                    "cpu", n_frames=12)
        (goal,) = _model(record, "teacher").goals
        assert (goal.name, goal.value, goal.passed) == ("force_mae", teacher_mae, passed)
    # a reference teacher's error is zero by construction: no goal on it
    surrogate = forcefield_metrics("md", ff_models(), FFGoalSettings(max_teacher_force_mae=1e-9),
                                   "cpu", n_frames=12, teacher_type="reference")
    assert _model(surrogate, "teacher").goals == ()


def test_forcefield_non_finite_figures_become_null(tmp_path):
    models = ff_models()
    models["student"]["force_r2"] = float("nan")
    models["student"]["force_mae"] = float("inf")
    models["teacher"]["frames_per_s"] = 0.0  # an untimed teacher: no speed-up to compare
    record = forcefield_metrics("md", models, FFGoalSettings(), "cpu", n_frames=12)
    student = _model(record, "student")
    assert student.primary.value is None and student.metrics["force_r2"] is None
    assert {g.name: (g.value, g.passed) for g in student.goals} == {
        "speedup": (None, False), "force_mae_ratio": (None, False),
        "force_mae_ratio_vs_baseline": (None, False)}
    path = tmp_path / "metrics.json"
    write_metrics(path, record)
    text = path.read_text()
    assert "NaN" not in text and "Infinity" not in text
    written = json.loads(text)["models"][1]
    assert written["metrics"]["force_r2"] is None and written["primary"]["value"] is None
    assert read_metrics(path) == record


def test_forcefield_needs_teacher_and_student():
    models = ff_models()
    del models["teacher"]
    with pytest.raises(ValueError, match="expected the teacher, at least one student"):
        forcefield_metrics("md", models, FFGoalSettings(), "cpu", n_frames=1)
    models = {**ff_models(), "mentor": ff_models()["student"]}
    with pytest.raises(ValueError, match="found \\['baseline', 'mentor', 'student', 'teacher'"):
        forcefield_metrics("md", models, FFGoalSettings(), "cpu", n_frames=1)
    # without a baseline the record has teacher and student only
    del models["mentor"], models["baseline"]
    record = forcefield_metrics("md", models, FFGoalSettings(), "cpu", n_frames=1)
    assert [m.model for m in record.models] == ["teacher", "student"]
    assert "force_mae_ratio_baseline_vs_teacher" not in record.summary
    assert "force_mae_ratio_vs_baseline" not in _model(record, "student").metrics


def test_forcefield_every_student_has_goals_and_its_baseline_ratio():
    models = {**ff_models(), "student_small": ff_model(0.080, 2000.0, 1_000),
              "baseline_small": ff_model(0.100, 2100.0, 1_000)}
    record = forcefield_metrics("md", models, FFGoalSettings(), "cpu", n_frames=12)
    assert [(m.model, m.role, len(m.goals)) for m in record.models] == [
        ("teacher", "teacher", 0), ("student", "student", 3), ("baseline", "baseline", 0),
        ("student_small", "student", 3), ("baseline_small", "baseline", 0)]
    small = _model(record, "student_small")
    assert small.metrics["speedup_vs_teacher"] == pytest.approx(40.0)
    assert small.metrics["force_mae_ratio_vs_baseline"] == pytest.approx(0.8)
    assert _model(record, "student").metrics["force_mae_ratio_vs_baseline"] == pytest.approx(
        0.048 / 0.090)
    goals = {g.name: g.passed for g in small.goals}
    # 2x the teacher's MAE; 0.8x its baseline's
    assert goals == {"speedup": True, "force_mae_ratio": False,
                     "force_mae_ratio_vs_baseline": True}
    assert record.summary["speedup_student_small_vs_teacher"] == pytest.approx(40.0)
    assert record.summary["force_mae_ratio_baseline_small_vs_teacher"] == pytest.approx(2.5)


def test_forcefield_record_states_each_models_steps_and_how_its_training_ended():
    student = {"final_step": 3800, "stopped_early": False, "epochs_run": 20, "epochs": 20,
               "best_epoch": 19, "steps_per_epoch": 190, "batch_size": 4}
    baseline = {**student, "final_step": 1440, "stopped_early": True, "epochs_run": 24,
                "epochs": 64, "best_epoch": 14, "steps_per_epoch": 60, "student_steps": 3800}
    models = ff_models()
    models["teacher"]["training"] = training_figures(None)  # an ASE teacher: not trained here
    models["student"]["training"] = training_figures(student)
    models["baseline"]["training"] = training_figures(baseline)
    record = forcefield_metrics("md", models, FFGoalSettings(), "cpu", n_frames=12)
    assert _model(record, "teacher").metrics["training"] == {"optimizer_steps": None,
                                                             "stopped_early": None}
    assert _model(record, "student").metrics["training"] == {
        "optimizer_steps": 3800, "stopped_early": False, "epochs_run": 20, "epoch_budget": 20,
        "best_epoch": 19, "steps_per_epoch": 190}
    # the baseline's budget came from its student's steps; its patience ran out first
    assert _model(record, "baseline").metrics["training"] == {
        "optimizer_steps": 1440, "stopped_early": True, "epochs_run": 24, "epoch_budget": 64,
        "best_epoch": 14, "steps_per_epoch": 60, "student_steps": 3800}


# --- classifier ------------------------------------------------------------------------------

def test_classifier_record_roles_headline_and_speedups():
    record = classifier_metrics("can", can_models(), CANGoalSettings(), CAN_LINEUP, "cuda",
                                CLASSES, n_windows=40)
    assert record.track == "classifier"
    assert {m.model: m.role for m in record.models} == {
        "teacher": "teacher", "gat_small_kd": "student", "mlp_kd": "student",
        "mlp_scratch": "baseline"}
    mlp = _model(record, "mlp_kd")
    assert mlp.primary.model_dump() == {"name": "macro_f1", "value": 0.955,
                                        "direction": "maximize", "unit": ""}
    assert (mlp.throughput.value, mlp.throughput.unit) == (10_000.0, "windows/s")
    assert (mlp.n_params, mlp.size_bytes, mlp.device) == (2_000, None, "cuda")
    assert mlp.metrics["speedup_vs_teacher"] == 8.0  # batch-1 latency 4 ms / 0.5 ms
    assert mlp.metrics["speedup_vs_teacher_batched"] == 10.0
    assert mlp.metrics["confusion_matrix"][0] == [10, 0, 0, 0]
    assert mlp.metrics["auroc_ovr"]["spoofing"] is None
    assert not {"params", "macro_f1", "windows_per_s", "role", "device"} & set(mlp.metrics)
    summary = record.summary
    assert summary["student"] == "mlp_kd" and summary["scratch_macro_f1"] == 0.93
    assert summary["f1_gap"] == pytest.approx(0.015)
    assert (summary["speedup_batch1"], summary["speedup_batched"]) == (8.0, 10.0)
    assert summary["param_ratio"] == 25.0 and summary["classes"] == CLASSES
    assert "device" not in summary  # a plain device name is on every model already


def test_classifier_goals_pass_and_fail_against_the_settings():
    record = classifier_metrics("can", can_models(), CANGoalSettings(), CAN_LINEUP, "cpu",
                                CLASSES, n_windows=40)
    assert [(m, g.name, g.threshold, g.passed) for m, g in record.goals()] == [
        ("teacher", "macro_f1", 0.95, True), ("mlp_kd", "f1_gap", 0.02, True),
        ("mlp_kd", "speedup", 5.0, True)]
    assert _model(record, "mlp_kd").goals[1].value == 8.0  # the slower of batch 1 and batched

    # 9x: met batched (10x) but not at batch 1 (8x): the goal must hold at both
    strict = CANGoalSettings(teacher_macro_f1=0.98, max_f1_gap=0.01, min_speedup=9.0)
    record = classifier_metrics("can", can_models(), strict, CAN_LINEUP, "cpu", CLASSES, 40)
    assert [(m, g.name, g.threshold, g.passed) for m, g in record.goals()] == [
        ("teacher", "macro_f1", 0.98, False), ("mlp_kd", "f1_gap", 0.01, False),
        ("mlp_kd", "speedup", 9.0, False)]
    # the primary student decides which model carries the goals
    gat_small = ClassifierSettings(primary_student="gat_small", seeds=None).lineup()
    record = classifier_metrics("can", can_models(), CANGoalSettings(), gat_small, "cpu",
                                CLASSES, 40)
    assert {m for m, _ in record.goals()} == {"teacher", "gat_small_kd"}


def test_classifier_non_finite_and_unknown_inputs():
    models = can_models()
    models["teacher"]["macro_f1"] = float("nan")
    models["mlp_kd"]["latency_batched_ms"] = 0.0
    record = classifier_metrics("can", models, CANGoalSettings(), CAN_LINEUP, "cpu", CLASSES, 40)
    assert _model(record, "teacher").primary.value is None
    assert {(m, g.name): (g.value, g.passed) for m, g in record.goals()} == {
        ("teacher", "macro_f1"): (None, False), ("mlp_kd", "f1_gap"): (None, False),
        ("mlp_kd", "speedup"): (None, False)}
    assert record.summary["f1_gap"] is None and record.summary["speedup_batched"] is None
    with pytest.raises(ValueError, match=r"found \['gat_small_kd', 'mlp_kd', 'mlp_scratch', "
                                         r"'mlp_v2', 'teacher'\], expected 'teacher' and "
                                         r"'mlp_kd' among"):
        classifier_metrics("can", {**can_models(), "mlp_v2": can_models()["mlp_kd"]},
                           CANGoalSettings(), CAN_LINEUP, "cpu", CLASSES, 40)
    del models["mlp_kd"]  # the primary student's model is what the goals are about
    with pytest.raises(ValueError, match="expected 'teacher' and 'mlp_kd'"):
        classifier_metrics("can", models, CANGoalSettings(), CAN_LINEUP, "cpu", CLASSES, 40)


def _detector(rates: dict[str, tuple[float, float]]) -> dict:
    """IDS figures of one detector: per attack (detection rate at 1% FPR, AUROC)."""
    return {"thresholds": {"0.01": 1.0}, "fpr": {"0.01": 0.01}, "latency": {}, "attacks": {
        a: {"n": 5, "detection_rate": {"0.01": d}, "auroc": auroc, "auprc": auroc}
        for a, (d, auroc) in rates.items()}}


def test_the_payload_model_carries_the_unseen_attack_goals():
    ids = {"teacher": _detector({"dos": (1.0, 1.0), "fuzzy": (0.0, 0.5)}),
           "payload": _detector({"dos": (1.0, 1.0), "fuzzy": (0.95, 0.99),
                                 "spoofing": (0.5, 0.9)})}
    models = can_models()
    models["teacher"]["f1"] = {"normal": 0.9, "dos": 0.8, "fuzzy": 0.0, "spoofing": 0.7}
    # replay is held out but has no test window: no figures, so its goals are missed
    figures = {"params": 1_000, "size_bytes": 4_000, "windows_per_s": 5_000.0}
    record = classifier_metrics("can", models, CANGoalSettings(), CAN_LINEUP, "cpu", CLASSES,
                                40, ids=ids, held_out=["fuzzy", "spoofing", "replay"],
                                payload=figures)
    payload = _model(record, "payload")
    assert payload.role == "anomaly"
    assert payload.primary.model_dump() == {"name": "min_auroc", "value": 0.9,
                                            "direction": "maximize", "unit": ""}
    assert (payload.n_params, payload.size_bytes, payload.throughput.value) == (
        1_000, 4_000, 5_000.0)
    assert payload.metrics["detection_rate"] == {"dos": 1.0, "fuzzy": 0.95, "spoofing": 0.5}
    assert [(g.name, g.value, g.threshold, g.passed) for g in payload.goals] == [
        ("unseen_detection_fuzzy", 0.95, 0.9, True), ("unseen_auroc_fuzzy", 0.99, 0.97, True),
        ("unseen_detection_spoofing", 0.5, 0.9, False),
        ("unseen_auroc_spoofing", 0.9, 0.97, False),
        ("unseen_detection_replay", None, 0.9, False), ("unseen_auroc_replay", None, 0.97, False)]
    # the payload model is the best single detector of the unseen fuzzy attack
    assert record.summary["unseen"]["fuzzy"]["best_single"] == "payload"
    # macro F1 over the classes trained on: normal and dos (fuzzy and spoofing are held out)
    teacher = _model(record, "teacher")
    assert teacher.metrics["macro_f1_seen"] == pytest.approx((0.9 + 0.8) / 2)
    assert record.summary["teacher_macro_f1_seen"] == pytest.approx(0.85)
    # without its own figures, or without its scores, there is no payload record
    for kwargs in ({"ids": ids}, {"payload": figures}):
        plain = classifier_metrics("can", models, CANGoalSettings(), CAN_LINEUP, "cpu",
                                   CLASSES, 40, **kwargs)
        assert "payload" not in {m.model for m in plain.models}


# --- coarse-grained --------------------------------------------------------------------------

def test_cg_record_has_one_model_per_mode_and_no_goals_without_a_simulation():
    record = cg_metrics("cg", cg_modes(), JAX_CPU, n_frames=8, variant="long_prior")
    assert (record.track, record.variant) == ("coarse_grained", "long_prior")
    assert [(m.model, m.role) for m in record.models] == [
        ("full", "full"), ("prior-only", "prior"), ("ml-only", "ablation")]
    full, prior = _model(record, "full"), _model(record, "prior-only")
    assert full.primary.model_dump() == {"name": "force_mae", "value": 0.10,
                                         "direction": "minimize", "unit": "eV/Å"}
    assert (full.n_params, prior.n_params) == (3_000, None)
    assert full.throughput is None and full.goals == ()
    assert full.metrics["force_rmse"] == pytest.approx(0.13)
    assert "n_parameters" not in full.metrics and "force_mae" not in full.metrics
    assert record.summary["force_mae_ratio_full_vs_prior"] == pytest.approx(1 / 3)
    assert record.summary["energy_note"].startswith("energies compared")
    assert record.goals() == []


def _goals(record, model="full"):
    return {g.name: (g.value, g.passed) for g in _model(record, model).goals}


def test_cg_goals_met_by_a_converged_full_model():
    """Full JS 0.04 against a floor of 0.025 (1.6x, goal <= 2x) and a prior's 0.5 (0.08x,
    goal <= 0.5x); alpha_R 22 % against 20 % (2 points, goal <= 3); 8 of 8 replicas stable."""
    record = cg_metrics("ala2", cg_modes(), "cpu", n_frames=8,
                        simulation=cg_simulation(full_fes=0.04, alpha_r=0.22),
                        goals=CGGoalSettings())
    goals = _goals(record)
    assert list(goals) == ["fes_js_vs_floor", "fes_js_vs_prior", "basin_error",
                           "stable_fraction"]
    assert goals["fes_js_vs_floor"] == (pytest.approx(1.6), True)
    assert goals["fes_js_vs_prior"] == (pytest.approx(0.08), True)
    assert goals["basin_error"] == (pytest.approx(0.02), True)
    assert goals["stable_fraction"] == (1.0, True)
    # only the simulated model carries goals; its figures and the prior's join the record
    assert _model(record, "prior-only").goals == () and _model(record, "ml-only").goals == ()
    full = _model(record, "full").metrics
    assert full["basin_populations"]["alpha_R"] == pytest.approx(0.22)
    assert full["js_halves"]["fes"] == pytest.approx(0.04 / 3)
    assert _model(record, "prior-only").metrics["js_divergence"]["fes"] == 0.5
    assert "js_divergence" not in _model(record, "ml-only").metrics
    sim = record.summary["simulation"]
    assert sim["fes_js_reference_halves"] == 0.025
    assert sim["fes_js"] == {"full": 0.04, "prior-only": 0.5}
    assert sim["basin_populations"]["reference"]["alpha_R"] == 0.20
    assert sim["basin_populations"]["prior-only"]["alpha_L_C7ax"] == 0.45


def test_cg_goals_missed_are_recorded_as_misses():
    """JS 0.3 against a floor of 0.1 (3x) and a prior's 0.5 (0.6x); alpha_R 6 % against 20 %
    (14 points); 7 of 8 replicas stable: every goal missed, with its figure."""
    simulation = cg_simulation(full_fes=0.3, floor=0.1, alpha_r=0.06, stable_replicas=7)
    record = cg_metrics("ala2", cg_modes(), "cpu", n_frames=8, simulation=simulation)
    goals = _goals(record)
    assert goals == {"fes_js_vs_floor": (pytest.approx(3.0), False),
                     "fes_js_vs_prior": (pytest.approx(0.6), False),
                     "basin_error": (pytest.approx(0.14), False),
                     "stable_fraction": (0.875, False)}
    # thresholds are the settings'
    loose = CGGoalSettings(max_fes_js_vs_floor=4, max_fes_js_vs_prior=0.7, max_basin_error=0.2,
                           min_stable_fraction=0.8)
    record = cg_metrics("ala2", cg_modes(), "cpu", n_frames=8, simulation=simulation,
                        goals=loose)
    assert all(passed for _, passed in _goals(record).values())
    assert [g.threshold for g in _model(record, "full").goals] == [4, 0.7, 0.2, 0.8]
    # a null threshold drops its goal
    record = cg_metrics("ala2", cg_modes(), "cpu", n_frames=8, simulation=simulation,
                        goals=CGGoalSettings(max_fes_js_vs_prior=None))
    assert list(_goals(record)) == ["fes_js_vs_floor", "basin_error", "stable_fraction"]


def test_cg_goals_of_a_prior_only_simulation_without_basins():
    """A dataset without a delta model reports the prior's run: no ratio to itself; no basins
    defined, no basin goal; a run that blew up has no divergence, a missed goal."""
    simulation = cg_simulation()
    prior = simulation.pop("prior_only")
    simulation.update(prior, model="prior-only", prior_only=None)
    simulation["reference"]["basin_populations"] = {}
    simulation["js_divergence"]["fes"] = None
    record = cg_metrics("cg", {"prior-only": cg_modes()["prior-only"]}, "cpu", n_frames=8,
                        simulation=simulation)
    assert _goals(record, "prior-only") == {"fes_js_vs_floor": (None, False),
                                            "stable_fraction": (1.0, True)}


def test_cg_record_of_a_prior_only_dataset():
    # `cg.delta: null`: the prior is the dataset's only model, with no ratio to report
    record = cg_metrics("cg", {"prior-only": cg_modes()["prior-only"]}, "cpu", n_frames=8)
    assert [(m.model, m.role) for m in record.models] == [("prior-only", "prior")]
    assert record.models[0].primary.value == pytest.approx(cg_modes()["prior-only"]["force_mae"])
    assert "force_mae_ratio_full_vs_prior" not in record.summary


def test_cg_non_finite_values_and_unknown_modes(tmp_path):
    modes = cg_modes()
    modes["prior-only"]["force_r2"] = float("nan")
    modes["prior-only"]["force_mae"] = 0.0
    record = cg_metrics("cg", modes, "cpu", n_frames=8)
    assert _model(record, "prior-only").metrics["force_r2"] is None
    assert record.summary["force_mae_ratio_full_vs_prior"] is None  # a perfect prior
    write_metrics(tmp_path / "m.json", record)
    assert read_metrics(tmp_path / "m.json") == record
    with pytest.raises(ValueError, match="'full_v2'"):
        cg_metrics("cg", {**cg_modes(), "full_v2": cg_modes()["full"]}, "cpu", n_frames=8)
    with pytest.raises(ValueError, match="expected some of"):
        cg_metrics("cg", {}, "cpu", n_frames=8)
    with pytest.raises(ValueError, match="no 'force_mae'"):
        cg_metrics("cg", {"full": {"force_rmse": 1.0}}, "cpu", n_frames=8)



# --- electrostatics --------------------------------------------------------------------------

def _es(esp_rmse: float, dipole_mae: float, n_dcm: int | None = None,
        frames_per_s: float | None = None) -> dict:
    figures = {"esp_rmse": esp_rmse, "dipole_mae": dipole_mae, "quadrupole_mae": 0.3}
    if n_dcm is not None:  # a learned model: size and speed
        figures |= {"n_dcm": n_dcm, "frames_per_s": frames_per_s, "n_params": 5000,
                    "size_bytes": 20_000}
    return figures


def test_electrostatics_goals_are_on_the_learned_models_by_their_kind():
    models = {"reference_charges": _es(4.6, 1.3), "per_frame_fit": _es(1.0, 0.03),
              "teacher": _es(1.2, 0.08, 0, 1000.0), "teacher_dcm": _es(1.1, 0.05, 2, 500.0),
              "student": _es(1.6, 0.2, 0, 3000.0)}
    record = electrostatics_metrics("mol_esp", models, EsGoalSettings(), JAX_CPU, n_frames=40)
    assert [(m.model, m.role) for m in record.models] == [
        ("reference_charges", "baseline"), ("per_frame_fit", "baseline"),
        ("teacher", "teacher"), ("teacher_dcm", "model"), ("student", "student")]
    goals = {(model, g.name): (g.threshold, g.passed) for model, g in record.goals()}
    assert goals == {
        ("teacher", "esp_rmse_ratio_vs_fit"): (1.5, True), ("teacher", "dipole_mae"): (0.1, True),
        # distributed charges must beat the per-frame atom-centred fit: 1.1x misses
        ("teacher_dcm", "esp_rmse_ratio_vs_fit"): (1.0, False),
        ("teacher_dcm", "dipole_mae"): (0.1, True),
        ("student", "esp_rmse_ratio_vs_fit"): (1.5, False), ("student", "dipole_mae"): (0.1, False)}
    student = _model(record, "student")
    assert student.metrics["speedup_vs_teacher"] == pytest.approx(3.0)
    assert student.throughput.value == 3000.0 and student.n_params == 5000
    assert _model(record, "reference_charges").metrics["esp_rmse_ratio_vs_fit"] == \
        pytest.approx(4.6)
    assert record.summary["speedup_student_vs_teacher"] == pytest.approx(3.0)
    with pytest.raises(ValueError, match="expected per_frame_fit, teacher"):
        electrostatics_metrics("mol_esp", {"teacher": models["teacher"]}, EsGoalSettings(),
                               JAX_CPU, n_frames=40)
