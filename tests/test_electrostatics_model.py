"""Charge head: exact charge conservation, equivariant off-centre charges, training with the
train-vs-validation table, and the point-charge baselines on data with known charges."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from ase.build import molecule
from scipy.spatial.transform import Rotation

from distillery.data.frames import FrameSet, per_atom
from distillery.electrostatics import physics
from distillery.electrostatics.metrics import baseline_metrics
from distillery.electrostatics.model import (
    ChargeModel,
    ChargeModelSettings,
    conserve,
    electrostatic_buckets,
)
from distillery.electrostatics.training import ChargeTrainSettings, fit
from distillery.potentials.neighbours import take_batch

WATER = molecule("H2O")
TRUE = np.array([-0.8, 0.4, 0.4])
TINY = {"kind": "schnet", "features": 8, "n_layers": 1, "n_rbf": 4, "cutoff": 3.0}


def water_frames(n: int, seed: int, total: float = 0.0) -> FrameSet:
    """Distorted waters whose labels come from the charges TRUE (shifted to `total`)."""
    rng = np.random.default_rng(seed)
    positions = [WATER.positions + rng.normal(scale=0.05, size=(3, 3)) for _ in range(n)]
    charges = TRUE + total / 3
    grids = np.stack([physics.vdw_surface(r, WATER.numbers, 30, rng=rng) for r in positions])
    origins = [physics.centre_of_mass(r, WATER.numbers) for r in positions]
    return FrameSet(numbers=[WATER.numbers] * n, positions=positions, extras={
        "mono": per_atom([charges] * n),
        "esp": np.stack([physics.esp(charges, r, g) for r, g in zip(positions, grids,
                                                                     strict=True)]),
        "esp_grid": grids,
        "dipole": np.stack([physics.dipole(charges, r, o) for r, o in zip(positions, origins,
                                                                          strict=True)]),
        "quadrupole": np.stack([physics.quadrupole(charges, r, o)
                                for r, o in zip(positions, origins, strict=True)]),
        "total_charge": np.full(n, total)})


def test_mean_shift_conserves_the_total_charge_exactly():
    rng = np.random.default_rng(1)
    charges = jnp.asarray(rng.normal(size=(4, 7)))
    mask = jnp.asarray(np.arange(7)[None] < np.array([[7], [5], [1], [3]]))
    total = jnp.asarray([0.0, 1.0, -2.0, 0.5])
    out = conserve(charges, mask, total)
    np.testing.assert_allclose(np.sum(out, axis=1), total, atol=1e-6)
    assert np.all(np.asarray(out)[~np.asarray(mask)] == 0)
    # one shift per molecule: differences between its charges are untouched
    np.testing.assert_allclose(np.diff(out[0]), np.diff(charges[0]), atol=1e-6)


@pytest.fixture(scope="module")
def dcm_model():
    model = ChargeModel(ChargeModelSettings(model=TINY, n_dcm=2))
    return model, model.init(0)


def test_distributed_charges_conserve_charge_and_rotate_with_the_molecule(dcm_model):
    model, params = dcm_model
    frames = water_frames(2, seed=0, total=1.0)
    rotation = Rotation.from_euler("xyz", [0.3, -1.1, 2.0]).as_matrix()
    turned = FrameSet(numbers=frames.numbers, positions=[r @ rotation.T for r in frames.positions],
                      extras={**frames.extras, "esp_grid": frames.extras["esp_grid"]
                              @ rotation.T})
    results = []
    sites_of = jax.jit(model.sites)
    for fs in (frames, turned):
        batch = take_batch(electrostatic_buckets(fs, model.cutoff)[0], np.arange(2), 3)
        charges, sites, _ = sites_of(params, batch)
        assert sites.shape == (3, 8 * 3, 3)  # 8 padded atoms, each with 1 + 2 sites
        np.testing.assert_allclose(np.sum(charges, axis=1), [1.0, 1.0, 0.0], atol=1e-5)
        offsets = np.linalg.norm(np.asarray(sites)[0, 8:8 + 6] - np.repeat(
            fs.positions[0], 2, axis=0), axis=1)
        assert 0 < offsets.max() <= 0.5 + 1e-6  # off the atom, within max_offset
        results.append(model.compiled_predict(params, batch))
    np.testing.assert_allclose(results[1]["dipole"][:2], results[0]["dipole"][:2] @ rotation.T,
                               atol=1e-4)
    np.testing.assert_allclose(results[1]["esp"], results[0]["esp"], atol=1e-4)


def test_training_learns_the_charges_and_logs_the_difference(capsys):
    train, val = water_frames(12, seed=1), water_frames(4, seed=2)
    settings = ChargeTrainSettings(epochs=25, batch_size=4,
                                   schedule={"lr": 0.02, "warmup_steps": 0})
    model = ChargeModel(ChargeModelSettings(model=TINY))
    lines: list[str] = []
    _, history = fit(model, train, val, settings, log=lines.append)
    first, last = history[0], history[-1]
    assert len(history) == 25 and "%" in lines[-1] and "esp_rmse train" in lines[-1]
    assert last["diff_pct_esp_rmse"] == pytest.approx(
        100 * (last["val_esp_rmse"] - last["train_esp_rmse"]) / last["train_esp_rmse"])
    # zero charges would miss the ESP by ~10 kcal/mol/e; the learned ones come close to TRUE
    assert min(r["val_esp_rmse"] for r in history) < 0.2 * first["val_esp_rmse"]
    assert min(r["val_dipole_mae"] for r in history) < 0.3


def test_baselines_recover_known_charges():
    frames = water_frames(3, seed=3, total=-1.0)
    scores = baseline_metrics(frames)
    for name in ("per_frame_fit", "reference_charges"):
        assert scores[name]["esp_rmse"] < 1e-6 and scores[name]["dipole_mae"] < 1e-6
    assert scores["per_frame_fit"]["charge_mae"] < 1e-6
