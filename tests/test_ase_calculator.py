"""The ASE calculator on an exported Morse potential: forces = -dE/dR, stress = dE/dstrain / V,
and it drives ASE optimisers."""

from __future__ import annotations

import numpy as np
import pytest
from ase.build import bulk
from ase.calculators.calculator import PropertyNotImplementedError
from ase.calculators.fd import calculate_numerical_stress
from ase.optimize import BFGS

from distillery.forcefield.ase_calculator import ExportedCalculator
from distillery.forcefield.export.jax_export import export_forcefield
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
