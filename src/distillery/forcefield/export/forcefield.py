"""Export trained force fields (`model.npz` of the training rules) and check the export.

The exported program builds its own all-pairs neighbour list, so `ForceField.energy` is
wrapped into the generic (params, positions, numbers, cell, pbc) energy function.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from distillery.data.frames import FrameSet
from distillery.forcefield.export.jax_export import EnergyFn, export_forcefield
from distillery.forcefield.export.jax_loader import ExportedForceField
from distillery.forcefield.export.neighbours import dense_neighbours
from distillery.potentials.inference import predict
from distillery.potentials.model import ForceField, load_model


def forcefield_energy(model: ForceField) -> EnergyFn:
    """The model's energy with neighbours found inside the program."""
    def energy(params, positions, numbers, cell, pbc):
        neighbours = dense_neighbours(positions, cell, pbc, model.cutoff)
        return model.energy(params, positions, numbers, cell, neighbours)

    return energy


def export_trained(model_dir: str | Path, out_dir: str | Path, n_atoms: int | None,
                   float64: bool = False, meta: dict[str, Any] | None = None) -> ForceField:
    """Export `model_dir/model.npz`; returns the in-process model for checks."""
    model, params = load_model(model_dir)
    export_forcefield(out_dir, forcefield_energy(model), params, model.cutoff, n_atoms=n_atoms,
                      float64=float64, meta={"model": model.config, **(meta or {})})
    return model


def compare_exported(exported: ExportedForceField, model_dir: str | Path, frames: FrameSet
                     ) -> dict[str, float]:
    """Largest energy (eV/atom) and force (eV/Å) differences between the exported program
    and the training code's own batched prediction (ASE neighbour lists) on `frames`."""
    model, params = load_model(model_dir)
    energy, forces = predict(model, params, frames)
    de, df, scale = 0.0, 0.0, 0.0
    for k in range(len(frames)):
        cell = np.zeros((3, 3)) if frames.cell is None else frames.cell[k]
        pbc = np.zeros(3, bool) if frames.pbc is None else frames.pbc[k]
        out = exported.predict(frames.positions[k], frames.numbers[k], cell, pbc)
        de = max(de, abs(out.energy - energy[k]) / len(frames.numbers[k]))
        df = max(df, float(np.abs(out.forces - forces[k]).max()))
        scale = max(scale, float(np.abs(forces[k]).max()))
    return {"max_energy_diff_per_atom": de, "max_force_diff": df, "max_abs_force": scale,
            "n_frames": len(frames)}
