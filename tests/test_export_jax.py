"""Exported force fields reproduce the in-process energy function and reject bad input."""

from __future__ import annotations

import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from ase.build import bulk

from distillery.errors import InputError
from distillery.forcefield.export.jax_export import energy_forces_virial, export_forcefield
from distillery.forcefield.export.jax_loader import ExportedForceField
from tests.morse import CUTOFF, PARAMS, morse_energy


@pytest.fixture(scope="module")
def crystal():
    atoms = bulk("Cu", "fcc", a=3.6, cubic=True).repeat((2, 2, 2))
    atoms.rattle(0.05, seed=1)
    return atoms


def _inputs(atoms):
    return (np.asarray(atoms.positions, np.float32), atoms.numbers.astype(np.int32),
            atoms.cell.array.astype(np.float32), np.asarray(atoms.pbc))


@pytest.mark.parametrize("n_atoms", [None, 32])
def test_exported_matches_in_process(tmp_path, crystal, n_atoms):
    export_forcefield(tmp_path, morse_energy, PARAMS, CUTOFF, n_atoms=n_atoms)
    loaded = ExportedForceField(tmp_path)
    direct = jax.jit(energy_forces_virial(morse_energy))(PARAMS, *_inputs(crystal))
    out = loaded.predict(crystal.positions, crystal.numbers, crystal.cell, crystal.pbc)
    np.testing.assert_allclose(out.energy, float(direct[0]), rtol=1e-6)
    np.testing.assert_allclose(out.forces, np.asarray(direct[1]), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(out.virial, np.asarray(direct[2]), rtol=1e-5, atol=1e-5)
    assert np.abs(out.forces).max() > 0.1  # the rattled crystal is not at a stationary point


def test_symbolic_export_runs_other_sizes(tmp_path, crystal):
    export_forcefield(tmp_path, morse_energy, PARAMS, CUTOFF)
    loaded = ExportedForceField(tmp_path)
    small = crystal[:5]
    small.pbc = False
    out = loaded.predict(small.positions, small.numbers, small.cell, small.pbc)
    direct = morse_energy(PARAMS, *(jnp.asarray(a) for a in _inputs(small)))
    assert out.forces.shape == (5, 3)
    np.testing.assert_allclose(out.energy, float(direct), rtol=1e-6)


def test_fixed_size_export_rejects_other_sizes(tmp_path, crystal):
    export_forcefield(tmp_path, morse_energy, PARAMS, CUTOFF, n_atoms=32)
    loaded = ExportedForceField(tmp_path)
    small = crystal[:5]
    with pytest.raises(InputError, match="n_atoms: found 5, expected 32"):
        loaded.predict(small.positions, small.numbers, small.cell, small.pbc)


def test_cell_too_small_for_cutoff_is_rejected(tmp_path):
    export_forcefield(tmp_path, morse_energy, PARAMS, CUTOFF)
    loaded = ExportedForceField(tmp_path)
    atoms = bulk("Cu", "fcc", a=3.6, cubic=True)
    with pytest.raises(InputError, match="cell widths"):
        loaded.predict(atoms.positions, atoms.numbers, atoms.cell, atoms.pbc)


def test_missing_files_are_reported(tmp_path):
    with pytest.raises(InputError, match="exported force field"):
        ExportedForceField(tmp_path)


def test_loading_needs_no_training_code(tmp_path, crystal):
    """A fresh interpreter evaluates the export without importing flax or the model code."""
    export_forcefield(tmp_path, morse_energy, PARAMS, CUTOFF)
    script = (
        "import sys, numpy as np\n"
        "from distillery.forcefield.ase_calculator import ExportedCalculator\n"
        f"calc = ExportedCalculator({str(tmp_path)!r})\n"
        "data = np.load(sys.argv[1])\n"
        "out = calc.model.predict(data['R'], data['z'], data['cell'], data['pbc'])\n"
        "loaded = [m for m in sys.modules if m == 'flax' or m.startswith(('distillery.potentials',"
        " 'distillery.train', 'tests'))]\n"
        "print(repr(out.energy), loaded)\n"
    )
    np.savez(tmp_path / "in.npz", R=crystal.positions, z=crystal.numbers,
             cell=crystal.cell.array, pbc=crystal.pbc)
    result = subprocess.run([sys.executable, "-c", script, str(tmp_path / "in.npz")],
                            capture_output=True, text=True, check=True, cwd=tmp_path)
    energy, loaded = result.stdout.strip().split(" ", 1)
    expected = morse_energy(PARAMS, *(jnp.asarray(a) for a in _inputs(crystal)))
    assert float(energy) == pytest.approx(float(expected), rel=1e-6)
    assert loaded == "[]"
