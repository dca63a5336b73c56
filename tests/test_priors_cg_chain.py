"""Priors fitted to the reference chain generator's output recover its true parameters; a
learned residual makes up for a term the prior lacks."""

from __future__ import annotations

import numpy as np
import pytest

from distillery.cg.delta import mode_metrics, mode_predictions, train_delta
from distillery.cg.energy import Priors
from distillery.cg.prior_fit import fit_priors
from distillery.cg.settings import PriorFitSettings
from distillery.cg.terms import HarmonicTerm
from distillery.cg.topology import chain
from distillery.cg.truth import parameter_recovery, reference_terms
from distillery.data.frames import FrameSet
from distillery.data.generate.cg_chain import (
    KCAL_PER_MOL_IN_EV,
    ChainPotential,
    simulate_chain,
    truth,
)
from distillery.data.settings import CgChainGenerate
from distillery.potentials.settings import ModelSettings
from distillery.train.settings import FFTrainSettings, ScheduleSettings

TEMPERATURE = 300.0


@pytest.fixture(scope="module")
def chain_data():
    """A small run of the generator (many short replicas keep it to a few seconds)."""
    potential = ChainPotential()
    settings = CgChainGenerate(kind="cg_chain", n_frames=600, replicas=200, equilibration=4000)
    arrays = simulate_chain(settings, potential, TEMPERATURE, seed=4)
    return arrays, truth(potential, TEMPERATURE)


@pytest.mark.parametrize("kind", ["parametric", "spline"])
def test_fits_recover_true_chain_parameters(chain_data, kind):
    arrays, true = chain_data
    positions = arrays["R"]
    priors, hists = fit_priors(positions, chain(true["n_beads"], 3), true["kT"],
                               PriorFitSettings(fit=kind))
    terms = reference_terms(true, order=3)
    recovery = parameter_recovery(priors, hists, terms)
    # one bead type: one class per kind
    assert {k: list(v) for k, v in priors.terms.items()} == {
        k: ["bead-" * (n - 1) + "bead"] for k, n in (("bond", 2), ("angle", 3),
                                                      ("dihedral", 4), ("pair", 2))}
    bond, angle = priors.terms["bond"]["bead-bead"], priors.terms["angle"]["bead-bead-bead"]
    if kind == "parametric":
        assert isinstance(bond, HarmonicTerm) and isinstance(angle, HarmonicTerm)
        # harmonic k/2 (x - x0)^2 in the generator's convention
        assert bond.k == pytest.approx(true["bond"]["k"], rel=0.04)
        assert bond.x0 == pytest.approx(true["bond"]["r0"], rel=0.005)
        assert angle.k == pytest.approx(true["angle"]["k"], rel=0.04)
        assert angle.x0 == pytest.approx(true["angle"]["theta0"], rel=0.005)
        assert abs(recovery["bond"]["k_rel_error"]) < 0.04
    # every fitted profile follows the true one over the sampled range, to a fraction of kT
    assert recovery["bond"]["profile_rms_kT"] < 0.1
    assert recovery["angle"]["profile_rms_kT"] < 0.1
    assert recovery["dihedral"]["profile_rms_kT"] < 0.15


def test_dihedral_fit_reproduces_the_true_profile(chain_data):
    arrays, true = chain_data
    positions = arrays["R"]
    priors, _ = fit_priors(positions, chain(true["n_beads"], 3), true["kT"], PriorFitSettings())
    phi = np.linspace(-np.pi, np.pi, 181)
    k, n, delta = true["dihedral"]["k"], true["dihedral"]["n"], true["dihedral"]["delta"]
    expected = k * (1 + np.cos(n * phi - delta))
    dihedral = priors.terms["dihedral"]["bead-bead-bead-bead"]
    fitted = dihedral.energy(phi)
    diff = (fitted - fitted.mean()) - (expected - expected.mean())
    # the barrier is 2k (about 3.4 kT); short runs leave the rarely visited cis region a
    # little undersampled, so the fit may deviate by up to ~0.3 kT (9 % of the barrier)
    assert np.abs(diff).max() < 0.3 * true["kT"]
    assert dihedral.a[0] == pytest.approx(k * np.cos(delta), rel=0.15)
    assert np.abs(dihedral.a[1:]).max() < 0.1 * k  # no spurious higher harmonics


def test_a_learned_residual_supplies_the_term_a_prior_lacks(chain_data, tmp_path):
    """The coarse-grained claim on a known answer: the prior is the generator's own potential
    without its bond term, so prior-only misses exactly the bond forces; a tiny delta model
    trained on the residual of 60 frames brings them back on 40 others (full = prior +
    residual)."""
    arrays, true = chain_data
    n = 100
    frames = FrameSet(numbers=[arrays["z"]] * n, positions=list(arrays["R"][:n]),
                      energy=arrays["E"][:n] * KCAL_PER_MOL_IN_EV,
                      forces=list(arrays["F"][:n] * KCAL_PER_MOL_IN_EV))
    terms = reference_terms(true, order=1)
    names = {"angle": "bead-bead-bead", "dihedral": "bead-bead-bead-bead", "pair": "bead-bead"}
    priors = Priors(chain(true["n_beads"], 3), true["kT"],
                    {"bond": {}, **{kind: {name: terms[kind]} for kind, name in names.items()}})
    train, test = frames.subset(range(60)), frames.subset(range(60, n))
    cfg = FFTrainSettings(epochs=4, batch_size=10, energy_weight=0.0, checkpoint_every=0,
                          progress_interval=1e9, schedule=ScheduleSettings(lr=3e-2,
                                                                           warmup_steps=5))
    model = ModelSettings(kind="schnet", features=8, n_layers=1, n_rbf=8, cutoff=5.0)
    delta, result, _ = train_delta(model, cfg, train, test.subset([]), priors, tmp_path,
                                   log=lambda _: None)
    metrics = mode_metrics(mode_predictions(priors, delta, result.params, test), test)
    assert metrics["full"]["force_rmse"] < 0.4 * metrics["prior-only"]["force_rmse"]
