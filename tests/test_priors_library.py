"""Priors library: geometry, topology, mapping, Boltzmann inversion, fits, energies, files."""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from pydantic import ValidationError

from distillery.cg import geometry
from distillery.cg.boltzmann import boltzmann_inversion
from distillery.cg.energy import Priors, prior_energy, prior_energy_and_forces
from distillery.cg.mapping import from_config, from_groups
from distillery.cg.prior_fit import fit_priors
from distillery.cg.serialise import load_priors, priors_to_dict, save_priors
from distillery.cg.settings import MappingSettings, PriorFitSettings
from distillery.cg.term_fits import fit_fourier, fit_harmonic, fit_repulsion
from distillery.cg.terms import FourierTerm, HarmonicTerm, RepulsionTerm
from distillery.cg.topology import chain, from_bonds
from distillery.errors import InputError
from distillery.io import write_yaml

KT = 0.025852  # eV at 300 K


def _rejection(rng, draw, accept_prob, n):
    """Samples of draw() kept with probability accept_prob(x) (for Jacobian factors)."""
    out = []
    while sum(len(o) for o in out) < n:
        x = draw(4 * n)
        out.append(x[rng.random(x.size) < accept_prob(x)])
    return np.concatenate(out)[:n]


def _zigzag(n_beads: int, seed: int) -> np.ndarray:
    """A chain near a bonded minimum, randomly perturbed."""
    rng = np.random.default_rng(seed)
    steps = np.array([[np.cos(0.6), (-1) ** k * np.sin(0.6), 0.3 * (k % 3 - 1)]
                      for k in range(n_beads - 1)])
    steps *= 3.8 / np.linalg.norm(steps, axis=1, keepdims=True)
    x = np.vstack([np.zeros(3), np.cumsum(steps, axis=0)])
    return x + rng.normal(0, 0.15, x.shape)


def test_geometry_known_values_and_jax_agrees():
    x = np.array([[1.0, 0, 0], [0, 0, 0], [0, 1.0, 0], [0, 1.0, 1.0]])
    quad = np.array([[0, 1, 2, 3]])
    assert geometry.bond_lengths(x, np.array([[0, 2]]))[0] == pytest.approx(np.sqrt(2))
    assert geometry.angles(x, np.array([[0, 1, 2]]))[0] == pytest.approx(np.pi / 2)
    assert abs(geometry.dihedrals(x, quad)[0]) == pytest.approx(np.pi / 2)
    trans = np.array([[1.0, 0, 0], [0, 0, 0], [0, 1.0, 0], [-1.0, 1.0, 0]])
    assert abs(geometry.dihedrals(trans, quad)[0]) == pytest.approx(np.pi)
    mirrored = x * np.array([1, 1, -1])
    assert geometry.dihedrals(mirrored, quad)[0] == pytest.approx(-geometry.dihedrals(x, quad)[0])
    top = chain(6)
    y = _zigzag(6, 0)
    for fn, idx in ((geometry.bond_lengths, top.bonds), (geometry.angles, top.angles),
                    (geometry.dihedrals, top.dihedrals)):
        np.testing.assert_allclose(np.asarray(fn(jnp.asarray(y), idx, jnp)), fn(y, idx),
                                   rtol=1e-5, atol=1e-5)


def test_chain_and_branched_topology():
    top = chain(12)
    assert len(top.bonds) == 11 and len(top.angles) == 10 and len(top.dihedrals) == 9
    # pairs at least 3 bonds apart along a 12-bead chain: sum over separations 3..11
    assert len(top.pairs) == sum(12 - s for s in range(3, 12))
    assert np.all(np.abs(top.pairs[:, 1] - top.pairs[:, 0]) >= 3)
    assert np.array_equal(top.angles[0], [0, 1, 2]) and np.array_equal(top.dihedrals[-1],
                                                                       [8, 9, 10, 11])
    # a star of three arms around bead 0: three angles at the centre, no dihedrals
    star = from_bonds(4, [(0, 1), (0, 2), (0, 3)])
    assert len(star.angles) == 3 and np.all(star.angles[:, 1] == 0)
    assert len(star.dihedrals) == 0 and len(star.pairs) == 0
    with pytest.raises(InputError, match="cg.topology.bonds"):
        from_bonds(3, [(0, 5)])
    with pytest.raises(InputError, match="cg.exclusion"):
        chain(4, exclusion=1)


def test_mapping_centres_and_force_sums():
    numbers = np.array([6, 1, 8, 1])  # C H O H
    positions = np.array([[0.0, 0, 0], [1.0, 0, 0], [0, 2.0, 0], [0, 3.0, 0]])
    forces = np.arange(12, dtype=float).reshape(4, 3)
    mapping = from_groups([[0, 1], [2, 3]], numbers, "mass")
    m_c, m_h, m_o = 12.011, 1.008, 15.999
    expected = [m_h / (m_c + m_h), 0, 0]
    np.testing.assert_allclose(mapping.positions(positions)[0], expected, rtol=1e-3)
    np.testing.assert_allclose(mapping.positions(positions)[1], [0, (2 * m_o + 3 * m_h)
                                                                 / (m_o + m_h), 0], rtol=1e-3)
    np.testing.assert_allclose(mapping.forces(forces), [forces[0] + forces[1],
                                                        forces[2] + forces[3]])
    assert mapping.bead_numbers(numbers).tolist() == [6, 8]
    calpha = from_config(MappingSettings(kind="index", indices=(2, 0)), numbers)
    np.testing.assert_allclose(calpha.positions(positions[None])[0], positions[[2, 0]])
    with pytest.raises(InputError, match="another bead"):
        from_groups([[0, 1], [1, 2]], numbers)
    with pytest.raises(ValidationError, match="identity"):
        MappingSettings(kind="centroid")


@pytest.mark.parametrize("jacobian_kind,x0,k,low,high", [("r2", 3.8, 4.3, 3.0, 4.6),
                                                         ("sin", 1.9, 0.87, 0.0, np.pi)])
def test_boltzmann_inversion_recovers_harmonic(jacobian_kind, x0, k, low, high):
    """Samples of p(x) ~ J(x) exp(-k (x - x0)^2 / 2kT) give back k and x0."""
    rng = np.random.default_rng(1)
    sd = np.sqrt(KT / k)
    scale = (x0 + 6 * sd) ** 2
    jac = (lambda x: x**2 / scale) if jacobian_kind == "r2" else np.sin
    samples = _rejection(rng, lambda n: rng.normal(x0, sd, n), jac, 200_000)
    hist = boltzmann_inversion(samples, 90, (low, high), KT, jacobian_kind)
    fit = fit_harmonic(hist)
    assert fit.k == pytest.approx(k, rel=0.03)
    assert fit.x0 == pytest.approx(x0, abs=0.01 * sd + 1e-3)
    # without the Jacobian the volume factor shifts the apparent minimum
    biased = fit_harmonic(boltzmann_inversion(samples, 90, (low, high), KT, "none"))
    assert abs(biased.x0 - x0) > 5 * abs(fit.x0 - x0)


def test_fourier_fit_reproduces_dihedral_profile():
    rng = np.random.default_rng(2)
    true = FourierTerm(a=(0.04, 0.0, 0.01), b=(0.02, 0.0, 0.0))
    energy = true.energy
    ceiling = np.exp(-(energy(np.linspace(-np.pi, np.pi, 1000)).min()) / KT)
    phi = _rejection(rng, lambda n: rng.uniform(-np.pi, np.pi, n),
                     lambda p: np.exp(-energy(p) / KT) / ceiling, 200_000)
    fit = fit_fourier(boltzmann_inversion(phi, 72, (-np.pi, np.pi), KT, "none"), order=3)
    grid = np.linspace(-np.pi, np.pi, 200)
    diff = fit.energy(grid) - energy(grid)
    assert np.ptp(diff) < 0.1 * np.ptp(energy(grid))
    np.testing.assert_allclose(fit.a, true.a, atol=0.003)


@pytest.mark.parametrize("centre", [0.0, np.pi])
def test_fourier_fit_of_a_narrow_well_has_no_deeper_well_where_nothing_was_sampled(centre):
    """A planar amide torsion: sampled within about 30 degrees of trans (or cis) and never
    elsewhere. The series must not dip below the sampled PMF on the unsampled circle (an
    unconstrained least-squares fit puts wells there tens of eV deep: simulations fall in)."""
    rng = np.random.default_rng(3)
    phi = np.angle(np.exp(1j * (centre + rng.normal(0, 0.18, 20_000))))
    hist = boltzmann_inversion(phi, 72, (-np.pi, np.pi), KT, "none")
    fit = fit_fourier(hist, order=3, slack=KT)
    used = hist.counts >= 5
    energy = fit.energy(hist.centres)
    depth = np.ptp(hist.pmf[used])  # how far above the well the least sampled bins lie
    assert depth > 4 * KT
    assert energy[~used].min() - energy[used].min() > 0.8 * depth - KT
    # the well stays where the data are, with about the curvature they show (kT / variance)
    grid = np.linspace(-np.pi, np.pi, 3601)
    lowest = grid[np.argmin(fit.energy(grid))]
    assert abs(np.angle(np.exp(1j * (lowest - centre)))) < 0.05
    h = 1e-3
    curvature = (fit.energy(np.array([centre + h])) + fit.energy(np.array([centre - h]))
                 - 2 * fit.energy(np.array([centre])))[0] / h**2
    assert 0.5 * KT / 0.18**2 < curvature < 2.0 * KT / 0.18**2
    # a fit over the whole circle is untouched by the constraint (no unsampled bin)
    assert fit_fourier(boltzmann_inversion(rng.uniform(-np.pi, np.pi, 50_000), 36,
                                           (-np.pi, np.pi), KT, "none"), order=3).a == \
        pytest.approx((0.0, 0.0, 0.0), abs=0.01)


def test_repulsion_sits_below_closest_approach():
    distances = np.random.default_rng(0).uniform(4.0, 9.0, 10_000)
    term = fit_repulsion(distances, KT, 12, quantile=0.01, onset=0.8)
    assert term.sigma == pytest.approx(0.8 * np.quantile(distances, 0.01))
    assert term.energy(term.sigma) == pytest.approx(KT)


def _toy_priors(spline: bool) -> tuple[Priors, np.ndarray]:
    """Priors fitted to perturbed zig-zag chains, parametric or spline."""
    frames = np.stack([_zigzag(8, s) for s in range(400)])
    settings = PriorFitSettings(fit="spline" if spline else "parametric",
                               bins={"bond": 30, "angle": 40, "dihedral": 24, "pair": 30},
                               dihedral_order=2, min_count=2)
    priors, _ = fit_priors(frames, chain(8), KT, settings)
    return priors, frames


@pytest.mark.parametrize("spline", [False, True])
def test_prior_forces_are_minus_energy_gradient(spline):
    priors, frames = _toy_priors(spline)
    x = frames[3]
    with jax.enable_x64(True):
        _, forces = prior_energy_and_forces(priors, x[None])
        h = 1e-5
        for atom, axis in [(0, 0), (3, 1), (7, 2), (5, 0)]:
            step = np.zeros_like(x)
            step[atom, axis] = h
            fd = -(float(prior_energy(priors, jnp.asarray(x + step)))
                   - float(prior_energy(priors, jnp.asarray(x - step)))) / (2 * h)
            assert forces[0, atom, axis] == pytest.approx(fd, rel=1e-5, abs=1e-7)


def test_spline_is_continuous_at_grid_ends():
    priors, _ = _toy_priors(spline=True)
    bond = priors.terms["bond"]["bead-bead"]
    lo = bond.start
    hi = bond.start + (len(bond.values) - 1) * bond.step
    for edge in (lo, hi):
        below, above = bond.energy(np.array([edge - 1e-7, edge + 1e-7]))
        assert below == pytest.approx(above, abs=1e-6)
    # the harmonic continuation confines beyond the tabulated range
    assert bond.energy(np.array([hi + 1.0]))[0] > bond.energy(np.array([hi]))[0]


def test_stacked_spline_gives_each_interaction_its_curve():
    """The energy evaluates a kind's splines as tables stacked over interactions (n, knots):
    each interaction follows its own table over the whole grid, not one cut at n knots."""
    priors, frames = _toy_priors(spline=True)
    for kind, coordinate in (("bond", geometry.bond_lengths), ("dihedral", geometry.dihedrals)):
        values = coordinate(frames[:20], priors.topology.interactions(kind))
        term = next(iter(priors.terms[kind].values()))
        assert len(term.values) != values.shape[1]
        np.testing.assert_allclose(priors.gathered(kind).energy(values), term.energy(values),
                                   rtol=1e-12)


@pytest.mark.parametrize("suffix,spline", [(".yaml", False), (".json", False), (".npz", True)])
def test_priors_round_trip(tmp_path, suffix, spline):
    priors, frames = _toy_priors(spline)
    path = tmp_path / f"priors{suffix}"
    save_priors(path, priors)
    loaded = load_priors(path)
    assert loaded.kind == priors.kind
    np.testing.assert_array_equal(loaded.topology.pairs, priors.topology.pairs)
    np.testing.assert_allclose(prior_energy_and_forces(loaded, frames[:5])[1],
                               prior_energy_and_forces(priors, frames[:5])[1])


def test_bad_prior_files_raise_input_error(tmp_path):
    priors, _ = _toy_priors(spline=False)
    with pytest.raises(InputError, match="suffix"):
        save_priors(tmp_path / "priors.txt", priors)
    spline, _ = _toy_priors(spline=True)
    with pytest.raises(InputError, match=".npz for spline"):
        save_priors(tmp_path / "priors.yaml", spline)
    save_priors(tmp_path / "spline.npz", spline)
    readable = priors_to_dict(spline)
    write_yaml(tmp_path / "spline.yaml", readable)
    with pytest.raises(InputError, match="spline tables are read from the .npz"):
        load_priors(tmp_path / "spline.yaml")
    broken = tmp_path / "broken.yaml"
    broken.write_text("kind: parametric\nkT: 0.02\n")
    with pytest.raises(InputError, match="broken.yaml"):
        load_priors(broken)
    renamed = dataclasses.replace(priors, terms={**priors.terms,
                                                 "bond": {"bead-bead": HarmonicTerm(1.0, 2.0)},
                                                 "pair": {"bead-bead": RepulsionTerm(KT, 3, 12)}})
    save_priors(tmp_path / "ok.json", renamed)
    assert load_priors(tmp_path / "ok.json").terms["bond"] == {"bead-bead": HarmonicTerm(1.0, 2.0)}
