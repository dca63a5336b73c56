"""The JAX MD engine: the same trajectory as ASE's VelocityVerlet, energy conservation,
Langevin temperature, neighbour-list refresh, and its command line."""

from __future__ import annotations

import json
from functools import partial

import jax
import numpy as np
import pytest
from ase import Atoms, units
from ase.build import bulk, molecule
from ase.io import read, write
from ase.md.verlet import VelocityVerlet

from distillery.forcefield.ase_calculator import ExportedCalculator
from distillery.forcefield.export.jax_export import export_forcefield
from distillery.forcefield.export.jax_loader import ExportedForceField
from distillery.forcefield.md import (
    MDSettings,
    energy_potential,
    exported_potential,
    maxwell_boltzmann,
    model_potential,
    simulate,
)
from distillery.forcefield.md.__main__ import main
from distillery.potentials.calculator import ModelCalculator
from distillery.potentials.model import ForceField, save_model
from distillery.potentials.neighbours import Neighbours, neighbour_list
from distillery.potentials.settings import ModelSettings
from tests.ff_toy import toy_frames
from tests.morse import CUTOFF, PARAMS, morse_energy


def _tiny(dtype) -> tuple[ForceField, dict]:
    model = ForceField(ModelSettings(kind="schnet", features=8, n_layers=1, n_rbf=4,
                                     cutoff=3.0))
    net = jax.tree.map(lambda a: np.asarray(a, dtype), model.init(0))
    return model, {"net": net, "stats": {"shift": np.zeros(101, dtype),
                                         "scale": np.asarray(1.0, dtype)}}


@pytest.fixture(scope="module")
def tiny64():
    return _tiny(np.float64)


@pytest.fixture()
def crystal():
    atoms = bulk("Cu", "fcc", a=3.6, cubic=True).repeat((2, 2, 2))
    atoms.rattle(0.05, seed=2)
    return atoms


def _ase_samples(atoms, calculator, steps: int, every: int, timestep_fs: float) -> np.ndarray:
    atoms = atoms.copy()
    atoms.calc = calculator
    dyn = VelocityVerlet(atoms, timestep_fs * units.fs)
    positions = [atoms.positions.copy()]
    for _ in range(steps // every):
        dyn.run(every)
        positions.append(atoms.positions.copy())
    return np.array(positions)


def test_nve_follows_ase_velocity_verlet_with_a_model(tiny64):
    model, params = tiny64
    start = maxwell_boltzmann(molecule("CH3CH2OH"), 500.0, seed=0)
    settings = MDSettings(steps=40, timestep_fs=0.5, sample_every=10, chunk_steps=20)
    run = simulate(model_potential(model, params, start.numbers), start, settings)
    with jax.enable_x64(True):
        expected = _ase_samples(start, ModelCalculator(model, params), 40, 10, 0.5)
    assert run.steps == 40 and run.trajectory.reason is None
    assert np.abs(expected[-1] - expected[0]).max() > 0.05  # the atoms did move
    np.testing.assert_allclose(run.trajectory.positions, expected, atol=1e-9)


def test_nve_follows_ase_velocity_verlet_with_an_export(tmp_path, crystal):
    export_forcefield(tmp_path, morse_energy, PARAMS, CUTOFF, float64=True)
    start = maxwell_boltzmann(crystal, 600.0, seed=1)
    exported = ExportedForceField(tmp_path)
    potential = exported_potential(exported, start.numbers, start.cell.array, start.pbc)
    run = simulate(potential, start, MDSettings(steps=30, timestep_fs=2.0, sample_every=10))
    expected = _ase_samples(start, ExportedCalculator(exported), 30, 10, 2.0)
    assert np.abs(expected[-1] - expected[0]).max() > 0.05
    np.testing.assert_allclose(run.trajectory.positions, expected, atol=1e-9)


def _morse(atoms):
    return energy_potential(partial(_morse_of_positions, atoms.numbers, atoms.cell.array,
                                    atoms.pbc), float64=True)


def _morse_of_positions(numbers, cell, pbc, positions):
    return morse_energy(PARAMS, positions, numbers, cell, pbc)


def test_nve_conserves_energy(crystal):
    start = maxwell_boltzmann(crystal, 300.0, seed=3)
    run = simulate(_morse(start), start, MDSettings(steps=500, timestep_fs=2.0,
                                                    sample_every=10, chunk_steps=250))
    trajectory = run.trajectory
    total = (trajectory.potential + trajectory.kinetic) / len(start)
    # kinetic energy swings by far more than the total moves: a real test of conservation
    assert np.ptp(trajectory.kinetic) / len(start) > 50 * np.ptp(total)
    assert np.ptp(total) < 1e-4  # eV/atom over 1 ps
    slope = np.polyfit(trajectory.time_ps, total, 1)[0]
    assert abs(slope) < 2e-5  # eV/atom/ps


def test_langevin_reaches_the_bath_temperature(crystal):
    start = crystal.copy()  # at rest: the bath must heat it
    settings = MDSettings(ensemble="langevin", steps=1000, timestep_fs=4.0, temperature=600.0,
                          friction_per_ps=20.0, sample_every=10, chunk_steps=500, seed=4)
    run = simulate(_morse(start), start, settings)
    temperature = run.trajectory.temperature
    assert temperature[0] == 0.0
    # 32 atoms: one sample fluctuates by 14 %; the mean over 2 ps (40 friction times) is good
    # to about 2.5 %
    assert abs(np.mean(temperature[len(temperature) // 2:]) / 600.0 - 1.0) < 0.1


def _fresh_forces(model, params, atoms, positions):
    """Forces from a neighbour list built at exactly the cutoff, at these positions (padded
    to one size, so that one compilation serves every call)."""
    nb = neighbour_list(positions, model.cutoff, atoms.cell.array, atoms.pbc)
    pad = 512 - len(nb.senders)
    padded = Neighbours(*(np.concatenate([a, np.zeros((pad, *a.shape[1:]), a.dtype)])
                          for a in nb))
    with jax.enable_x64(True):
        return np.asarray(_jit_forces(model, params, positions, atoms.numbers,
                                      atoms.cell.array, padded)[1])


@partial(jax.jit, static_argnums=0)
def _jit_forces(model, params, positions, numbers, cell, neighbours):
    return model.energy_and_forces(params, positions, numbers, cell, neighbours)


def test_neighbour_list_refresh_gives_fresh_list_forces(tiny64):
    model, params = tiny64
    frames = toy_frames(1, seed=5)  # 8 atoms in a periodic 5.2 Å cube
    start = maxwell_boltzmann(Atoms(numbers=frames.numbers[0], positions=frames.positions[0],
                                    cell=frames.cell[0], pbc=True), 1000.0, seed=6)
    potential = model_potential(model, params, start.numbers, start.cell.array)
    settings = MDSettings(steps=60, timestep_fs=2.0, sample_every=10, chunk_steps=40,
                          skin=0.2)
    run = simulate(potential, start, settings)
    assert run.steps == 60 and run.list_builds > 5
    np.testing.assert_allclose(run.trajectory.time_ps, np.arange(0, 0.121, 0.02))
    moved = np.linalg.norm(run.final.positions - start.positions, axis=1).max()
    assert moved > 1.0  # far beyond the skin
    np.testing.assert_allclose(run.final.get_forces(),
                               _fresh_forces(model, params, start, run.final.positions),
                               atol=1e-10)
    for positions, max_force in zip(run.trajectory.positions, run.trajectory.max_force,
                                    strict=True):
        fresh = _fresh_forces(model, params, start, positions)
        assert max_force == pytest.approx(np.linalg.norm(fresh, axis=1).max(), abs=1e-10)
    # a wide skin rebuilds rarely and follows the same trajectory
    wide = simulate(potential, start, settings.model_copy(update={"skin": 1.5}))
    assert wide.list_builds < run.list_builds
    np.testing.assert_allclose(wide.trajectory.positions, run.trajectory.positions, atol=1e-9)
    # the ASE calculator refreshes its list the same way
    with jax.enable_x64(True):
        calculator = ModelCalculator(model, params, skin=0.2)
        for positions in run.trajectory.positions:
            atoms = start.copy()
            atoms.positions = positions
            atoms.calc = calculator
            np.testing.assert_allclose(atoms.get_forces(),
                                       _fresh_forces(model, params, start, positions),
                                       atol=1e-10)
    # a skin an atom crosses within one step stops the run with the reason
    stuck = simulate(potential, start, settings.model_copy(update={"skin": 0.001}))
    assert stuck.steps == 0 and "skin/2" in stuck.trajectory.reason


def test_command_line_writes_the_trajectory(tmp_path, capsys):
    model, params = _tiny(np.float32)
    save_model(tmp_path / "model", model, params)
    write(tmp_path / "ethanol.xyz", molecule("CH3CH2OH"))
    out = tmp_path / "traj.extxyz"
    assert main(["--model", str(tmp_path / "model"), "--structure",
                 str(tmp_path / "ethanol.xyz"), "--steps", "40", "--dt", "0.5",
                 "--temperature", "300", "--ensemble", "langevin", "--sample-every", "20",
                 "-o", str(out)]) == 0
    summary = json.loads(capsys.readouterr().out)
    frames = read(out, index=":")
    assert summary["steps"] == 40 and len(frames) == 3
    assert frames[-1].info["potential_energy"] != frames[0].info["potential_energy"]
    assert main(["--model", str(tmp_path), "--structure", str(tmp_path / "ethanol.xyz"),
                 "-o", str(out)]) == 1
    assert "neither a trained model nor an export" in capsys.readouterr().err
