"""The ASE calculator on an exported Morse potential: forces = -dE/dR, stress = dE/dstrain / V,
and it drives ASE optimisers; the model calculator keeps a list that still holds, and the
end-to-end speed calls every calculator afresh for every structure."""

from __future__ import annotations

import numpy as np
import pytest
from ase.build import bulk
from ase.calculators.calculator import PropertyNotImplementedError
from ase.calculators.fd import calculate_numerical_stress
from ase.optimize import BFGS

from distillery.atoms_state import system_changes
from distillery.data.frames import FrameSet
from distillery.forcefield.ase_calculator import ExportedCalculator
from distillery.forcefield.evaluation import calculator_speed
from distillery.forcefield.export.jax_export import export_forcefield
from distillery.potentials.calculator import ModelCalculator
from distillery.potentials.model import ForceField
from distillery.potentials.settings import ModelSettings
from tests.morse import CUTOFF, PARAMS, morse_energy


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    directory = tmp_path_factory.mktemp("morse64")
    export_forcefield(directory, morse_energy, PARAMS, CUTOFF, float64=True)
    return directory


@pytest.fixture()
def crystal():
    atoms = bulk("Cu", "fcc", a=3.6, cubic=True).repeat((2, 2, 2))
    atoms.rattle(0.05, seed=2)
    return atoms


def _central_forces(atoms, atom_indices, h=1e-4):
    forces = np.zeros((len(atom_indices), 3))
    for row, i in enumerate(atom_indices):
        for k in range(3):
            energies = []
            for sign in (1, -1):
                moved = atoms.copy()
                moved.calc = atoms.calc
                moved.positions[i, k] += sign * h
                energies.append(moved.get_potential_energy())
            forces[row, k] = -(energies[0] - energies[1]) / (2 * h)
    return forces


def test_forces_are_minus_energy_gradient(exported, crystal):
    crystal.calc = ExportedCalculator(exported)
    forces = crystal.get_forces()
    assert np.abs(forces).max() > 0.1
    checked = [0, 7, 19]  # a few atoms keep the 6 energy calls per atom cheap
    np.testing.assert_allclose(forces[checked], _central_forces(crystal, checked), atol=1e-6)


def test_cluster_forces_without_cell(exported, crystal):
    cluster = crystal[:6]
    cluster.pbc = False
    cluster.calc = ExportedCalculator(exported)
    np.testing.assert_allclose(cluster.get_forces(), _central_forces(cluster, range(6)),
                               atol=1e-6)
    assert abs(cluster.get_forces().sum(axis=0)).max() < 1e-10  # no external force
    with pytest.raises(PropertyNotImplementedError):
        cluster.get_stress()


def test_stress_matches_finite_strain(exported, crystal):
    crystal.calc = ExportedCalculator(exported)
    stress = crystal.get_stress()
    numerical = calculate_numerical_stress(crystal, eps=1e-5)
    assert np.abs(stress).max() > 1e-3
    np.testing.assert_allclose(stress, numerical, atol=1e-7)


def test_bfgs_relaxes_to_zero_force(exported, crystal):
    crystal.calc = ExportedCalculator(exported)
    start = crystal.get_potential_energy()
    assert BFGS(crystal, logfile=None).run(fmax=1e-3, steps=200)
    assert crystal.get_potential_energy() < start
    assert np.abs(crystal.get_forces()).max() < 1e-3


def test_model_calculator_keeps_a_list_that_holds_and_calls_afresh(crystal):
    model = ForceField(ModelSettings(kind="schnet", features=8, n_layers=1, n_rbf=4,
                                     cutoff=3.0))
    params = {"net": model.init(0), "stats": {"shift": np.zeros(101, np.float32),
                                              "scale": np.float32(1.0)}}
    cluster = crystal[:6]
    cluster.pbc = False
    cluster.set_cell(np.zeros((3, 3)))  # as the frames of a molecule hold it
    calculator = ModelCalculator(model, params)
    builds, calls = [], []
    build, calculate = calculator._list.build, calculator.calculate
    calculator._list.build = lambda *a: (builds.append(1), build(*a))[1]
    calculator.calculate = lambda *a, **k: (calls.append(1), calculate(*a, **k))[1]
    cluster.calc = calculator
    forces = cluster.get_forces()
    moved = cluster.copy()
    moved.positions[0] += 0.05
    assert system_changes(cluster, moved) == ["positions"]
    assert system_changes(None, moved)[:4] == ["positions", "numbers", "cell", "pbc"]
    frames = FrameSet(numbers=[cluster.numbers, moved.numbers],
                      positions=[cluster.positions, moved.positions])
    speed = calculator_speed(calculator, frames, 0.0)
    # a warm-up and one timed pass of two structures, each computed afresh after a reset, but
    # six atoms get a list of every pair, which no move expires: built once
    assert len(calls) == 1 + 2 * 2 and len(builds) == 1
    assert speed["batch_size"] == 1 and speed["calculator"] == "ModelCalculator"
    assert speed["atoms_per_s"] == pytest.approx(6 * speed["frames_per_s"])
    cluster.calc = calculator
    np.testing.assert_array_equal(cluster.get_forces(), forces)
    other = cluster.copy()
    other.numbers[0] = 79  # another element: a new list
    other.calc = calculator
    assert not np.allclose(other.get_forces(), forces)
    assert len(builds) == 2
