"""Langevin dynamics of a prior, stability flags and distribution comparisons."""

from __future__ import annotations

import numpy as np
import pytest
from ase import units
from pydantic import ValidationError

from distillery.cg import geometry
from distillery.cg.compare import (
    basin_populations,
    coordinate_histograms,
    fes_histograms,
    free_energy,
    in_interval,
    integrated_time,
    js_divergence,
)
from distillery.cg.delta import combined_energy
from distillery.cg.energy import Priors
from distillery.cg.langevin import Trajectory, langevin, stability
from distillery.cg.settings import SimulationSettings
from distillery.cg.simulation import halves_divergences, sampling
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
    # per replica: of three, the one stretched at 1 ps is unstable, the other two are not
    replicas = np.stack([np.stack([good, good, good]), np.stack([good, stretched, good]),
                         np.stack([good, good, good])], axis=1)
    flags = stability(Trajectory(replicas, np.array([0.5, 1.0, 1.5])), topology, 6.0, 3)
    assert (flags["stable"], flags["n_replicas"], flags["stable_replicas"]) == (False, 3, 2)
    # a run that stopped early certifies no replica
    flags = stability(Trajectory(replicas[:2], np.array([0.5, 1.0])), topology, 6.0, 3)
    assert flags["stable_replicas"] == 0


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


def _backbone(phi: float, psi: float) -> np.ndarray:
    """Five beads (a peptide backbone C N CA C N) with dihedrals phi = 0-1-2-3 and psi =
    1-2-3-4 in degrees: each new bead placed from the previous three (bond 1.5 Å, 110°)."""
    def place(a, b, c, torsion):
        bc = (c - b) / np.linalg.norm(c - b)
        n = np.cross(b - a, bc)
        n /= np.linalg.norm(n)
        theta, t = np.radians(110.0), np.radians(torsion)
        d = 1.5 * np.array([-np.cos(theta), np.sin(theta) * np.cos(t), np.sin(theta) * np.sin(t)])
        return c + d[0] * bc + d[1] * np.cross(n, bc) + d[2] * n

    x = [np.array([0.0, 1.0, 0.0]), np.zeros(3), np.array([1.5, 0.0, 0.0])]
    x.append(place(*x[-3:], phi))
    x.append(place(*x[-3:], psi))
    return np.stack(x)


RAMACHANDRAN = {"beta_C7eq": {"phi": (-180, 0), "psi": (50, -150)},
                "alpha_R": {"phi": (-180, 0), "psi": (-150, 50)},
                "alpha_L_C7ax": {"phi": (0, 180)}}
PHI_PSI = {"phi": (0, 1, 2, 3), "psi": (1, 2, 3, 4)}


def test_basin_populations_of_known_dihedrals():
    """Two frames in beta (one through the psi = ±180° wrap), two in alpha_R, one in alpha_L."""
    angles = [(-150.0, 150.0), (-70.0, -40.0), (-70.0, 10.0), (60.0, 40.0), (-80.0, -170.0)]
    frames = np.stack([_backbone(*a) for a in angles])
    topology = chain(5)
    phi = np.degrees(geometry.dihedrals(frames, np.array([PHI_PSI["phi"]])))[:, 0]
    np.testing.assert_allclose(phi, [a[0] for a in angles], atol=1e-9)  # IUPAC sign
    pops = basin_populations(frames, topology, RAMACHANDRAN, PHI_PSI)
    assert pops == {"beta_C7eq": 0.4, "alpha_R": 0.4, "alpha_L_C7ax": 0.2}
    # replicas along a middle axis count frame by frame
    assert basin_populations(frames.reshape(5, 1, 5, 3), topology, RAMACHANDRAN,
                             PHI_PSI) == pops
    # lengths in Å: the end-to-end distance of the same frames splits them elsewhere
    ends = geometry.end_to_end(frames)
    cut = float(np.sort(ends)[2])
    assert basin_populations(frames, topology, {"short": {"end_to_end": (0.0, cut)}}) == {
        "short": 0.4}
    assert not basin_populations(frames, topology, {})


def test_intervals_wrap_when_low_exceeds_high():
    x = np.array([-179.0, -150.0, 0.0, 49.9, 50.0, 179.0])
    assert in_interval(x, -150, 50).tolist() == [False, True, True, True, False, False]
    assert in_interval(x, 50, -150).tolist() == [True, False, False, False, True, True]


def test_integrated_time_of_an_autoregressive_process():
    """AR(1) x_t = a x_(t-1) + noise has tau = (1 + a) / (1 - a): 9 for a = 0.8, 1 for white
    noise; a replica stuck away from the others is slow; a constant has none."""
    noise = np.random.default_rng(3).normal(size=(20000, 8))
    assert integrated_time(noise) == pytest.approx(1.0, abs=0.1)
    ar = noise.copy()
    for t in range(1, len(ar)):
        ar[t] += 0.8 * ar[t - 1]
    assert integrated_time(ar) == pytest.approx(9.0, rel=0.1)
    stuck = np.zeros((200, 2))
    stuck[:, 1] = 1.0
    assert integrated_time(stuck) > 50
    assert integrated_time(np.ones((100, 3))) is None


def test_halves_are_split_in_time_not_by_alternate_frames():
    rng = np.random.default_rng(1)
    topology = chain(5)
    first = rng.normal(0, 1.0, (300, 5, 3)) + np.arange(5)[:, None] * np.array([3.0, 0, 0])
    settings = SimulationSettings(fes=("end_to_end", "dihedral_0"), bins=20)
    same = halves_divergences(np.concatenate([first, first]), topology, settings)
    assert set(same) == {"bond", "angle", "dihedral", "fes"}
    assert all(v == pytest.approx(0.0, abs=1e-12) for v in same.values())
    # a run that drifts: alternate frames would agree, the halves in time do not
    drift = halves_divergences(np.concatenate([first, 1.5 * first]), topology, settings)
    expected = coordinate_histograms(first, 1.5 * first, topology, 20)["bond"].divergence
    assert drift["bond"] == pytest.approx(expected) and expected > 0.1
    # replicas (n_frames, n_replicas, n_beads, 3) pool within each half; NaN frames drop out
    replicas = np.stack([np.concatenate([first, first])] * 2, axis=1)
    replicas[0, 1] = np.nan
    pooled = np.concatenate([first, first[1:]]), np.concatenate([first, first])
    assert halves_divergences(replicas, topology, settings)["bond"] == pytest.approx(
        coordinate_histograms(*pooled, topology, 20)["bond"].divergence, rel=1e-12)


def test_sampling_counts_basin_entries_per_replica():
    """beta -> alpha_R -> beta -> alpha_R in one replica, alpha_R throughout in the other:
    two entries into alpha_R and one into beta, none into alpha_L."""
    beta, alpha = _backbone(-150.0, 150.0), _backbone(-70.0, -40.0)
    series = np.stack([np.stack([b, alpha]) for b in (beta, alpha, beta, alpha)])
    settings = SimulationSettings(variables=PHI_PSI, fes=("phi", "psi"), basins=RAMACHANDRAN)
    figures = sampling(series, chain(5), settings)
    assert {b: f["entries"] for b, f in figures.items()} == {
        "beta_C7eq": 1, "alpha_R": 2, "alpha_L_C7ax": 0}
    assert figures["alpha_L_C7ax"]["decorrelation_frames"] is None  # never visited
    assert figures["alpha_R"]["effective_samples"] == pytest.approx(
        8 / figures["alpha_R"]["decorrelation_frames"])
