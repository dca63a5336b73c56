"""Delta learning targets and evaluation modes on a constructed case with known answers:
labels are generated exactly by prior + a fixed ML model, so each mode's error is known."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from distillery.cg.delta import (
    combined_energy,
    mode_metrics,
    mode_predictions,
    residual_labels,
)
from distillery.cg.energy import Priors, prior_energy_and_forces
from distillery.cg.settings import MODELS
from distillery.cg.terms import FourierTerm, HarmonicTerm, RepulsionTerm
from distillery.cg.topology import chain
from distillery.data.frames import FrameSet
from distillery.potentials.model import ForceField

N_BEADS = 6


def _frames(n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    # steps lean along x so that beads three bonds apart never overlap
    steps = rng.normal(size=(n, N_BEADS - 1, 3)) + np.array([2.0, 0.0, 0.0])
    steps *= 3.8 / np.linalg.norm(steps, axis=-1, keepdims=True)
    x = np.concatenate([np.zeros((n, 1, 3)), np.cumsum(steps, axis=1)], axis=1)
    return x + rng.normal(0, 0.1, x.shape)


@pytest.fixture(scope="module")
def case():
    priors = Priors(chain(N_BEADS), 0.0258, {
        "bond": {"bead-bead": HarmonicTerm(4.3, 3.8)},
        "angle": {"bead-bead-bead": HarmonicTerm(0.87, 1.9)},
        "dihedral": {"bead-bead-bead-bead": FourierTerm((0.04, 0.0), (0.0, 0.01))},
        "pair": {"bead-bead": RepulsionTerm(0.0258, 3.0, 12)}})
    model = ForceField({"kind": "schnet", "features": 8, "n_layers": 1, "n_rbf": 4,
                        "cutoff": 6.0})
    # a fixed random network with a sizeable output scale stands in for a trained delta model
    params = {"net": model.init(7), "stats": {"shift": np.zeros(model.max_z + 1),
                                              "scale": np.asarray(0.5)}}
    numbers = np.full(N_BEADS, 6)
    positions = _frames(40, 0)
    energy_fn = combined_energy(priors, model, params, numbers)
    labels = jax.jit(jax.vmap(jax.value_and_grad(energy_fn)))
    energy, grad = labels(jnp.asarray(positions, jnp.float32))
    frames = FrameSet(numbers=[numbers] * len(positions), positions=list(positions),
                      energy=np.asarray(energy, np.float64) + 3.0,  # arbitrary offset
                      forces=list(-np.asarray(grad, np.float64)))
    # predictions depend on positions only: computed once, compared with different labels
    predictions = mode_predictions(priors, model, params, frames)
    return priors, frames, predictions


def test_residual_labels_are_the_ml_part(case):
    priors, frames, _ = case
    labels = residual_labels(frames, priors)
    _, prior_forces = prior_energy_and_forces(priors, frames.stacked_positions())
    ml_forces = frames.stacked_forces() - prior_forces
    np.testing.assert_allclose(np.stack(labels.forces), ml_forces, atol=1e-6)
    assert np.abs(ml_forces).max() > 1e-3  # the ML part is not trivially zero


def test_modes_give_the_known_errors(case):
    priors, frames, predictions = case
    metrics = mode_metrics(predictions, frames)
    assert set(metrics) == set(MODELS)
    ref = frames.stacked_forces()
    _, prior_forces = prior_energy_and_forces(priors, frames.stacked_positions())
    ml_forces = ref - prior_forces
    rms = lambda a: float(np.sqrt(np.mean(a**2)))  # noqa: E731
    # full = the generating model: errors vanish up to float32 round-off
    assert metrics["full"]["force_rmse"] < 1e-4 * rms(ref)
    spread = np.std(frames.energy) / N_BEADS
    assert metrics["full"]["energy_mae_per_atom"] < 1e-4 * spread
    # prior-only misses exactly the ML forces, ml-only exactly the prior forces
    assert metrics["prior-only"]["force_rmse"] == pytest.approx(rms(ml_forces), rel=1e-3)
    assert metrics["ml-only"]["force_rmse"] == pytest.approx(rms(prior_forces), rel=1e-3)
    assert metrics["prior-only"]["force_rmse"] != pytest.approx(
        metrics["ml-only"]["force_rmse"], rel=0.1)
    for row in metrics.values():
        assert {"force_mae", "force_r2", "force_angle_mean_deg", "force_error_p95",
                "energy_rmse_per_atom"} <= set(row)


def test_data_from_the_prior_alone_give_zero_prior_only_error(case):
    priors, frames, predictions = case
    energy, forces = prior_energy_and_forces(priors, frames.stacked_positions())
    prior_data = FrameSet(numbers=frames.numbers, positions=frames.positions, energy=energy,
                          forces=list(forces))
    metrics = mode_metrics(predictions, prior_data)
    assert metrics["prior-only"]["force_rmse"] < 1e-9
    assert metrics["prior-only"]["energy_rmse_per_atom"] < 1e-9
    assert metrics["full"]["force_rmse"] > 1e-3
