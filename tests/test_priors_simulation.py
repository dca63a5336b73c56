"""Langevin dynamics of a prior, stability flags and distribution comparisons."""

from __future__ import annotations

import numpy as np
import pytest
from ase import units
from pydantic import ValidationError

from distillery.cg import geometry
from distillery.cg.compare import (
    coordinate_histograms,
    fes_histograms,
    free_energy,
    js_divergence,
)
from distillery.cg.delta import combined_energy
from distillery.cg.energy import Priors
from distillery.cg.langevin import Trajectory, langevin, stability
from distillery.cg.settings import SimulationSettings
from distillery.cg.terms import HarmonicTerm
from distillery.cg.topology import chain
from distillery.errors import InputError


def test_js_divergence_known_answers():
    """Base 2: identical histograms give 0, disjoint ones exactly 1, and two uniform
    histograms of n bins sharing k of them 1 - k/n (each half of the mixture is p/2 on the
    shared bins and p on the others); counts are normalised, so scale does not matter."""
    p = np.array([1.0, 2.0, 3.0, 0.0])
    assert js_divergence(p, 5 * p) == pytest.approx(0.0, abs=1e-12)
    assert js_divergence([1, 0], [0, 1]) == 1.0
    assert js_divergence([3, 1, 0, 0], [0, 0, 2, 7]) == pytest.approx(1.0, abs=1e-12)
    for n, k in ((2, 1), (4, 1), (4, 3), (10, 7)):
        left = np.r_[np.ones(n), np.zeros(n - k)]
        right = np.r_[np.zeros(n - k), 3 * np.ones(n)]
        assert js_divergence(left, right) == pytest.approx(1 - k / n, rel=1e-12)
    # a point mass against an even split of its bin and another: written out by hand,
    # m = (3/4, 1/4); 0.5 KL(p||m) + 0.5 KL(q||m) = 0.5 log2(4/3) + 0.25 log2(2/3) + 0.25
    expected = 0.5 * np.log2(4 / 3) + 0.25 * np.log2(2 / 3) + 0.25
    assert js_divergence([1, 0], [1, 1]) == pytest.approx(expected, rel=1e-12)
    assert js_divergence([1, 1], [1, 0]) == pytest.approx(expected, rel=1e-12)  # symmetric


def test_langevin_samples_the_harmonic_bond_distribution():
    """Beads on stiff harmonic bonds at 300 K: bond-length variance kT/k and mean near r0."""
    k, r0, temperature = 4.0, 3.8, 300.0
    topology = chain(3)
    priors = Priors(topology, units.kB * temperature, {"bond": {"bead-bead": HarmonicTerm(k, r0)}})
    numbers = np.full(3, 6)
    start = np.tile([[0.0, 0, 0], [r0, 0, 0], [r0, r0, 0]], (32, 1, 1))
    settings = SimulationSettings(steps=3000, timestep=0.005, friction=20.0, stride=10)
    traj = langevin(combined_energy(priors, None, None, numbers), start, numbers,
                    temperature, settings, seed=1, log=lambda _: None)
    assert traj.positions.shape == (300, 32, 3, 3)
    bonds = geometry.bond_lengths(traj.positions[50:], topology.bonds)
    kt = units.kB * temperature
    assert np.var(bonds) == pytest.approx(kt / k, rel=0.1)
    # the r^2 Jacobian shifts the mean outward by about 2 kT / (k r0)
    assert np.mean(bonds) == pytest.approx(r0 + 2 * kt / (k * r0), abs=0.005)
    flags = stability(traj, topology, max_bond=1.5 * r0, planned_records=300)
    assert flags["stable"] and flags["first_unstable_ps"] is None


def test_stability_flags_stretched_and_non_finite_frames():
    topology = chain(3)
    good = np.array([[0.0, 0, 0], [3.8, 0, 0], [3.8, 3.8, 0]])
    stretched = good * np.array([1.0, 3.0, 1.0])
    broken = np.full_like(good, np.nan)
    positions = np.stack([good, stretched, broken])[:, None]
    traj = Trajectory(positions, np.array([0.5, 1.0, 1.5]))
    flags = stability(traj, topology, max_bond=6.0, planned_records=3)
    assert not flags["stable"] and not flags["finite"]
    assert flags["first_unstable_ps"] == 1.0
    assert flags["longest_bond"] == pytest.approx(3.8 * 3.0)


def test_histograms_of_identical_and_shifted_samples():
    rng = np.random.default_rng(0)
    topology = chain(5)
    frames = rng.normal(0, 1.0, (400, 5, 3)) + np.arange(5)[:, None] * np.array([3.0, 0, 0])
    same = coordinate_histograms(frames, frames, topology, 30)
    assert all(h.divergence == pytest.approx(0.0, abs=1e-12) for h in same.values())
    stretched = coordinate_histograms(frames, frames * 1.5, topology, 30)
    assert stretched["bond"].divergence > 0.1
    assert stretched["angle"].divergence == pytest.approx(0.0, abs=1e-12)  # angles scale-free
    fes = fes_histograms(frames, frames, topology, ("end_to_end", "dihedral_1"), 10)
    assert fes.divergence == pytest.approx(0.0, abs=1e-12)
    f = free_energy(fes.reference, 1.0)
    assert np.nanmin(f) == 0.0 and np.isnan(f).sum() == np.sum(fes.reference == 0)
    with pytest.raises(InputError, match="cg.simulate.fes"):
        fes_histograms(frames, frames, topology, ("end_to_end", "dihedral_9"), 10)


def test_simulation_settings_reject_bad_config():
    assert SimulationSettings(steps=500, stride=50).steps == 500
    with pytest.raises(ValidationError, match="step"):
        SimulationSettings.model_validate({"step": 10})
    with pytest.raises(ValidationError, match="fes"):
        SimulationSettings.model_validate({"fes": ["end_to_end"]})
    with pytest.raises(ValidationError, match="at least stride"):
        SimulationSettings(steps=10, stride=100)
