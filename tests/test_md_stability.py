"""MD with an exported Morse potential: NVE conserves energy, Langevin thermalises, runs are
reproducible, instabilities are detected (in ASE's integrators and in the JAX engine, at the
same step for the same reason), and g(r) of a lattice integrates to its shells."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
import pytest
from ase.build import bulk
from ase.calculators.emt import EMT

from distillery.forcefield.ase_calculator import ExportedCalculator
from distillery.forcefield.export.jax_export import export_forcefield
from distillery.forcefield.export.jax_loader import ExportedForceField
from distillery.forcefield.md import exported_potential
from distillery.forcefield.md_stability import (
    energy_drift,
    instability,
    load_trajectories,
    nearest_neighbours,
    run_md,
    run_native,
    save_trajectories,
    summarise,
)
from distillery.forcefield.rdf import radial_distribution, rdf_distance
from distillery.forcefield.settings import MDStabilitySettings
from tests.morse import CUTOFF, PARAMS, morse_energy


@pytest.fixture(scope="module")
def calculator(tmp_path_factory):
    directory = tmp_path_factory.mktemp("morse_md")
    export_forcefield(directory, morse_energy, PARAMS, CUTOFF, float64=True)
    return ExportedCalculator(directory)


@pytest.fixture()
def crystal():
    atoms = bulk("Cu", "fcc", a=3.6, cubic=True).repeat((2, 2, 2))
    atoms.rattle(0.02, seed=3)
    return atoms


def test_nve_small_timestep_conserves_energy(calculator, crystal):
    settings = MDStabilitySettings(steps=400, timestep_fs=0.5, temperature=300.0, sample_every=5)
    run = run_md(crystal, calculator, "nve", settings, seed=0)
    total = (run.potential + run.kinetic) / len(crystal)
    assert run.unstable_at_ps is None
    assert run.kinetic.std() > 1e-3  # energy really flows between kinetic and potential
    # stated tolerance: 0.5 fs velocity Verlet keeps E_total within 2e-5 eV/atom over 0.2 ps
    assert np.abs(total - total[0]).max() < 2e-5
    assert abs(energy_drift(run)) < 1e-4  # eV/atom/ps


def test_trajectories_round_trip_and_summaries(tmp_path, calculator, crystal):
    settings = MDStabilitySettings(steps=20, timestep_fs=1.0, temperature=300.0, sample_every=4)
    runs = [run_md(crystal, calculator, e, settings, seed=1) for e in ("nve", "langevin")]
    save_trajectories(tmp_path / "runs.npz", runs)
    loaded = load_trajectories(tmp_path / "runs.npz")
    assert [t.ensemble for t in loaded] == ["nve", "langevin"]
    for before, after in zip(runs, loaded, strict=True):
        np.testing.assert_array_equal(before.positions, after.positions)
        np.testing.assert_array_equal(before.potential, after.potential)
        assert summarise(after, settings) == summarise(before, settings)
    assert len(loaded[0].time_ps) == 6  # steps 0, 4, ..., 20
    nve = summarise(loaded[0], settings)
    assert nve["stable"] and nve["planned_ps"] == pytest.approx(0.02)
    assert "energy_drift_eV_per_atom_per_ps" not in summarise(loaded[1], settings)


def test_large_timestep_drifts_more(calculator, crystal):
    fine = run_md(crystal, calculator, "nve", MDStabilitySettings(steps=100, timestep_fs=1.0,
                                                         temperature=300.0, sample_every=1), 0)
    coarse = run_md(crystal, calculator, "nve", MDStabilitySettings(steps=25, timestep_fs=4.0,
                                                           temperature=300.0, sample_every=1), 0)

    def spread(run):
        total = (run.potential + run.kinetic) / run.n_atoms
        return np.ptp(total)

    assert spread(coarse) > 4 * spread(fine)


def test_langevin_is_seeded_and_thermalises(calculator, crystal):
    settings = MDStabilitySettings(steps=300, timestep_fs=2.0, temperature=500.0,
                                   friction_per_ps=20.0, sample_every=5)
    first = run_md(crystal, calculator, "langevin", settings, seed=4)
    again = run_md(crystal, calculator, "langevin", settings, seed=4)
    other = run_md(crystal, calculator, "langevin", settings, seed=5)
    np.testing.assert_array_equal(first.positions, again.positions)
    assert not np.allclose(first.positions[-1], other.positions[-1])
    late = first.temperature[len(first.temperature) // 3:]
    assert 350.0 < late.mean() < 650.0


def test_instability_reasons():
    atoms = bulk("Cu", "fcc", a=3.6, cubic=True).repeat((2, 2, 2))
    atoms.calc = EMT()
    settings = MDStabilitySettings()
    reference = nearest_neighbours(atoms.positions, atoms.cell.array, atoms.pbc)
    assert instability(atoms, reference, settings) is None
    squeezed = atoms.copy()
    squeezed.calc = EMT()
    squeezed.positions[1] = squeezed.positions[0] + [0.4, 0.0, 0.0]
    assert instability(squeezed, reference, settings).startswith("force blow-up")
    soft = MDStabilitySettings(max_force=1e9)
    assert instability(squeezed, reference, soft).startswith("collapse")
    cluster = atoms[:4]
    cluster.pbc = False
    cluster.calc = EMT()
    reference = nearest_neighbours(cluster.positions, cluster.cell.array, cluster.pbc)
    assert instability(cluster, reference, soft) is None
    cluster.positions[0] += [10.0, 0.0, 0.0]  # one atom leaves the cluster
    assert instability(cluster, reference, soft).startswith("bond stretch")


def _exported(directory, **changes):
    """The Morse export (double precision) with some parameters changed."""
    export_forcefield(directory, morse_energy, {**PARAMS, **changes}, CUTOFF, float64=True)
    return ExportedForceField(directory)


@pytest.fixture(scope="module")
def morse_pair(tmp_path_factory):
    """The stable Morse crystal's export and one with an exploding parameter: a well 57 times
    deeper with its minimum at 2.0 Å pulls the 2.55 Å neighbours together within 0.04 ps."""
    return (_exported(tmp_path_factory.mktemp("stable")),
            _exported(tmp_path_factory.mktemp("exploding"), depth=jnp.float32(20.0),
                      r0=jnp.float32(2.0)))


def test_native_engine_flags_the_exploding_model_where_ase_does(morse_pair, crystal):
    stable, exploding = morse_pair
    settings = MDStabilitySettings(steps=200, timestep_fs=2.0, temperature=300.0,
                                   sample_every=5)
    for exported, expect_stable in ((stable, True), (exploding, False)):
        potential = exported_potential(exported, crystal.numbers, crystal.cell.array,
                                       crystal.pbc)
        for ensemble in ("nve", "langevin"):
            native = run_native(crystal, potential, ensemble, settings, seed=0)
            run = native.trajectory
            assert (run.unstable_at_ps is None) is expect_stable
            assert summarise(run, settings)["stable"] is expect_stable
            if ensemble == "nve":
                # velocity Verlet in double precision from the same seeded start: ASE's run
                # is the same trajectory, cut at the same step for the same reason
                ase = run_md(crystal, ExportedCalculator(exported), "nve", settings, seed=0)
                assert run.unstable_at_ps == pytest.approx(ase.unstable_at_ps)
                assert run.reason == ase.reason
                np.testing.assert_allclose(run.positions, ase.positions, atol=1e-9)
            if expect_stable:
                assert native.steps == 200 and len(run.time_ps) == 41
            else:
                # blown up after 18 steps (0.036 ps); the unstable state is not sampled
                assert native.steps == 18 and run.unstable_at_ps == pytest.approx(0.036)
                assert run.reason.startswith("force blow-up: max |F|")
                assert run.time_ps.max() < run.unstable_at_ps


def test_native_engine_flags_a_cluster_flying_apart(tmp_path, crystal):
    cluster = crystal[:6]
    cluster.pbc = False
    # a negative well depth: every pair repels, and the cluster flies apart
    potential = exported_potential(_exported(tmp_path, depth=jnp.float32(-2.0)),
                                   cluster.numbers, cluster.cell.array, cluster.pbc)
    settings = MDStabilitySettings(steps=400, timestep_fs=2.0, temperature=300.0)
    run = run_native(cluster, potential, "nve", settings, seed=1).trajectory
    assert run.reason.startswith("bond stretch: nearest neighbour x")
    stretched = float(run.reason.split("x")[1].split()[0])
    assert 1.5 < stretched < 1.6  # caught at the step it crossed bond_factor 1.5
    assert settings.steps * 0.002 > run.unstable_at_ps > 0.0


def test_rdf_of_fcc_lattice_counts_twelve_neighbours():
    a = 3.6
    atoms = bulk("Cu", "fcc", a=a, cubic=True).repeat((3, 3, 3))
    r, g = radial_distribution([atoms.positions], atoms.cell.array, atoms.pbc, 5.0, 200)
    density = len(atoms) / atoms.get_volume()
    dr = r[1] - r[0]
    first_shell = r < 0.5 * (a / np.sqrt(2) + a)  # between the 1st (2.55 Å) and 2nd (3.6 Å)
    coordination = np.sum(4 * np.pi * r[first_shell] ** 2 * density * g[first_shell] * dr)
    assert coordination == pytest.approx(12.0, rel=0.02)
    assert r[np.argmax(g)] == pytest.approx(a / np.sqrt(2), abs=dr)
    assert rdf_distance(g, g, r) == 0.0


def test_rdf_of_ideal_gas_is_one():
    rng = np.random.default_rng(0)
    cell = np.eye(3) * 12.0
    frames = [rng.uniform(0, 12.0, (200, 3)) for _ in range(20)]
    _, g = radial_distribution(frames, cell, np.ones(3, bool), 5.5, 11)
    np.testing.assert_allclose(g[2:], 1.0, atol=0.1)


def test_pair_distance_density_of_a_molecule_without_cell():
    # a linear triatomic: pairs at 1.0, 1.0 and 2.0 Å; the density integrates to 1 below r_max
    positions = np.array([[0.0, 0.0, 0.0], [1.0, 0.0, 0.0], [2.0, 0.0, 0.0]])
    r, g = radial_distribution([positions, positions], None, None, 4.0, 8)
    dr = r[1] - r[0]
    assert np.isclose(np.sum(g) * dr, 1.0)
    assert np.isclose(g[2] * dr, 2 / 3)  # bin [1.0, 1.5)
    assert np.isclose(g[4] * dr, 1 / 3)  # bin [2.0, 2.5)
    # pbc all False behaves as no cell at all
    _, g_open = radial_distribution([positions], np.eye(3) * 3.0, np.zeros(3, bool), 4.0, 8)
    assert np.allclose(g_open, g)
