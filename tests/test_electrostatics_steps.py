"""The electrostatics track's steps called without Snakemake, on waters whose labels are the
analytic ESP and multipoles of known point charges: ingest of the NPZ, teachers (atom-centred
and with off-centre charges), the teacher-labelled distillation set, the distilled student and
the evaluation with its metrics record, goals and figures."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from ase.build import molecule

from distillery.data import steps as data_steps
from distillery.data.frames import read_frames
from distillery.data.settings import DataSettings
from distillery.electrostatics import physics, steps
from distillery.electrostatics.model import load_charge_model
from distillery.electrostatics.settings import ElectrostaticsSettings
from distillery.electrostatics.training import predict
from distillery.errors import InputError
from distillery.io import read_json
from distillery.metrics.record import read_metrics

WATER = molecule("H2O")
TRUE = np.array([-0.8, 0.4, 0.4])  # e: the charges every label comes from
N_FRAMES = 24
TINY = {"kind": "schnet", "features": 8, "n_layers": 1, "n_rbf": 4, "cutoff": 3.0}
TRAIN = {"epochs": 12, "batch_size": 4, "schedule": {"lr": 0.02, "warmup_steps": 0}}
SETTINGS = ElectrostaticsSettings.model_validate({
    "teacher": {"charges": {"model": TINY}, "train": TRAIN},
    "teacher_dcm": {"charges": {"model": TINY, "n_dcm": 2}, "train": TRAIN},
    "student": {"charges": {"model": {**TINY, "features": 4}},
                "train": {**TRAIN, "weights": {"mono": 100.0}}},
    "distill": {"copies": 1},
    "evaluate": {"batch_size": 4, "speed_frames": 4, "speed_seconds": 0.05},
})


def water_npz(path: Path) -> None:
    """Distorted waters; ESP (Hartree/e) on 40 surface points, dipole (D) and quadrupole of
    the charges TRUE, under the names and units of a typical ESP-fitting file."""
    rng = np.random.default_rng(0)
    positions = WATER.positions + rng.normal(scale=0.05, size=(N_FRAMES, 3, 3))
    grids = np.stack([physics.vdw_surface(r, WATER.numbers, 40, rng=rng) for r in positions])
    origins = [physics.centre_of_mass(r, WATER.numbers) for r in positions]
    np.savez(path, R=positions, z=WATER.numbers, mono=np.tile(TRUE, (N_FRAMES, 1)),
             esp=np.stack([physics.esp(TRUE, r, g) for r, g in zip(positions, grids,
                                                                   strict=True)]) / 27.211386,
             vdw_surface=grids,
             D=np.stack([physics.dipole(TRUE, r, o) for r, o in zip(positions, origins,
                                                                   strict=True)]) / 0.2081943,
             quadrupole=np.stack([physics.quadrupole(TRUE, r, o)
                                  for r, o in zip(positions, origins, strict=True)]))


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """Every step once, as the rules chain them."""
    work = tmp_path_factory.mktemp("es")
    water_npz(work / "water.npz")
    data = DataSettings(track="electrostatics", format="npz", raw=str(work / "water.npz"),
                        units={"esp": "hartree/e", "dipole": "debye"},
                        split={"train": 0.6, "val": 0.2, "test": 0.2})
    frames, splits = str(work / "frames.parquet"), str(work / "splits.json")
    data_steps.ingest("water", data, [str(work / "water.npz")], frames, str(work / "s.json"))
    data_steps.split(data.split, frames, 0, splits)
    models = {}
    for name in ("teacher", "teacher_dcm", "student"):
        out = {k: str(work / name / f) for k, f in (
            ("model", "model.npz"), ("history_csv", "history.csv"),
            ("history_parquet", "history.parquet"), ("info", "train_info.json"))}
        distill = None
        if name == "student":
            distill = str(work / "distill_set.parquet")
            steps.distill(models["teacher"], SETTINGS.distill, frames, splits, 0, distill)
        steps.train(name, SETTINGS.roles()[name], frames, splits, out, distill=distill)
        models[name] = out["model"]
    outputs = {"metrics": str(work / "metrics.json"),
               **{k: str(work / f"{k}.png") for k in ("esp_parity", "dipole_parity",
                                                        "esp_surface")}}
    steps.evaluate("water", models, SETTINGS.evaluate, SETTINGS.goals, frames, splits, outputs)
    return work, read_metrics(outputs["metrics"])


def _figures(record, name):
    model = next(m for m in record.models if m.model == name)
    return {"esp_rmse": model.primary.value, **model.metrics}, model


def test_baselines_recover_the_known_charges(run):
    _, record = run
    for name in ("reference_charges", "per_frame_fit"):
        figures, model = _figures(record, name)
        assert figures["esp_rmse"] < 1e-3 and figures["dipole_mae"] < 1e-4
        assert model.role == "baseline" and model.goals == ()
    assert _figures(record, "per_frame_fit")[0]["charge_mae"] < 1e-4


def test_the_teacher_learns_the_known_charges(run):
    work, record = run
    figures, model = _figures(record, "teacher")
    # zero charges miss the ESP of TRUE by ~10 kcal/mol/e
    assert figures["esp_rmse"] < 1.5 and figures["charge_mae"] < 0.05
    assert model.role == "teacher" and model.throughput.value > 0 and model.n_params > 0
    # the saved model predicts the known charges on every frame
    trained, params = load_charge_model(work / "teacher")
    charges = predict(trained, params, read_frames(work / "frames.parquet"))["mono"]
    assert np.abs(np.stack(charges) - TRUE).max() < 0.1
    history = read_json(work / "teacher" / "train_info.json")
    assert history["epochs_run"] == 12 and history["train_frames"] == 14


def test_the_student_learns_the_teachers_charges_on_displaced_copies(run):
    work, record = run
    distilled = read_frames(work / "distill_set.parquet")
    # the 14 training frames and one displaced copy of each, all labelled by the teacher
    assert len(distilled) == 28 and list(np.bincount(distilled.extras["distill_copy"])) == [14, 14]
    assert not np.allclose(np.stack(distilled.extras["mono"]), TRUE)
    figures, model = _figures(record, "student")
    assert model.role == "student" and figures["charge_mae_vs_teacher"] < 0.05
    assert figures["speedup_vs_teacher"] > 0
    assert {g.name for g in model.goals} == {"esp_rmse_ratio_vs_fit", "dipole_mae"}


def test_record_checks_the_goals_and_writes_the_figures(run):
    work, record = run
    assert record.track == "electrostatics" and record.dataset == "water"
    assert [m.model for m in record.models] == [
        "reference_charges", "per_frame_fit", "teacher", "teacher_dcm", "student"]
    dcm = _figures(record, "teacher_dcm")[1]
    ratio = next(g for g in dcm.goals if g.name == "esp_rmse_ratio_vs_fit")
    # the fit is exact here, so no learned model is within any ratio of it
    assert ratio.threshold == 1.0 and not ratio.passed
    history = (work / "teacher_dcm" / "history.csv").read_text().splitlines()
    assert len(history) == 13 and "diff_pct_esp_rmse" in history[0]
    for name in ("esp_parity", "dipole_parity", "esp_surface"):
        assert (work / f"{name}.png").stat().st_size > 10_000


def test_ingest_of_an_electrostatics_dataset_needs_the_esp(tmp_path):
    np.savez(tmp_path / "x.npz", R=np.zeros((2, 3, 3)) + np.arange(3)[:, None],
             z=WATER.numbers, mono=np.zeros((2, 3)))
    data = DataSettings(track="electrostatics", format="npz", raw=str(tmp_path / "x.npz"))
    with pytest.raises(InputError, match=r"x\.npz: esp: found no esp among the labels"):
        data_steps.ingest("x", data, [str(tmp_path / "x.npz")], str(tmp_path / "f.parquet"),
                          str(tmp_path / "s.json"))
    assert not (tmp_path / "f.parquet").exists()
