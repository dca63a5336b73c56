"""Exported PaiNN and SchNet force fields reproduce the training code's own predictions
(neighbour lists from ASE) on periodic alloy frames and on a cluster."""

from __future__ import annotations

import numpy as np
import pytest
from ase.build import bulk

from distillery.data.frames import FrameSet
from distillery.forcefield.export.forcefield import compare_exported, export_trained
from distillery.forcefield.export.jax_loader import ExportedForceField
from distillery.potentials.model import ForceField, save_model

CONFIGS = {
    "painn": {"kind": "painn", "features": 8, "n_layers": 1, "n_rbf": 4, "cutoff": 3.4,
              "max_z": 80},
    "schnet": {"kind": "schnet", "features": 8, "n_layers": 1, "n_rbf": 4, "cutoff": 3.4,
               "max_z": 80},
}


def _frames(periodic: bool) -> FrameSet:
    rng = np.random.default_rng(0)
    numbers, positions = [], []
    for _ in range(1):
        atoms = bulk("Cu", "fcc", a=3.6, cubic=True).repeat((2, 2, 2))
        atoms.numbers[rng.choice(len(atoms), 8, replace=False)] = 79
        atoms.rattle(0.1, seed=int(rng.integers(1000)))
        numbers.append(atoms.numbers.astype(np.int64))
        positions.append(atoms.positions.copy())
    cell = np.eye(3)[None] * 7.2
    return FrameSet(numbers=numbers, positions=positions, cell=cell if periodic else None,
                    pbc=np.ones((1, 3), bool) if periodic else None)


@pytest.mark.parametrize("kind", sorted(CONFIGS))
def test_exported_trained_model_matches_training_code(tmp_path, kind):
    model = ForceField(CONFIGS[kind])
    shift = np.zeros(81)
    shift[[29, 79]] = [-3.5, -3.8]
    params = {"net": model.init(1), "stats": {"shift": shift, "scale": np.asarray(0.7)}}
    save_model(tmp_path / "model", model, params)
    export_trained(tmp_path / "model", tmp_path / "export", n_atoms=None)
    exported = ExportedForceField(tmp_path / "export")
    for periodic in (True, False):
        diffs = compare_exported(exported, tmp_path / "model", _frames(periodic))
        assert diffs["max_abs_force"] > 1e-2  # random weights still give non-trivial forces
        assert diffs["max_energy_diff_per_atom"] < 1e-5
        assert diffs["max_force_diff"] < 1e-4 * max(1.0, diffs["max_abs_force"])
