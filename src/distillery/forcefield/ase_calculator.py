"""ASE calculator around an exported force field: energy, forces and (periodic) stress."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from ase import Atoms
from ase.calculators.calculator import Calculator, all_changes
from ase.stress import full_3x3_to_voigt_6_stress

from distillery.atoms_state import system_changes
from distillery.forcefield.export.jax_loader import ExportedForceField


class ExportedCalculator(Calculator):
    """`ExportedCalculator("results/md/export/student")` for ASE MD and optimisers.

    Stress (ASE sign convention, (1/V) dE/d(strain), Voigt order) is given for fully periodic
    cells. A call sends the positions and reads back one array (forces, energy, virial).
    """

    implemented_properties = ("energy", "free_energy", "forces", "stress")

    def __init__(self, model: str | Path | ExportedForceField, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.model = model if isinstance(model, ExportedForceField) else ExportedForceField(model)
        program = self.model.program

        def packed(*args: Any) -> jax.Array:
            energy, forces, virial = program(*args)
            return jnp.concatenate([forces, jnp.broadcast_to(energy, (1, 3)).astype(forces.dtype),
                                    virial.astype(forces.dtype)])

        self._packed = jax.jit(packed)
        self._inputs: tuple[Any, ...] = ()  # (numbers, cell, pbc) as the program takes them

    def check_state(self, atoms: Atoms, tol: float = 1e-15) -> list[str]:
        return system_changes(self.atoms, atoms)

    def calculate(self, atoms: Any = None, properties: Any = ("energy",),
                  system_changes: Any = all_changes) -> None:
        super().calculate(atoms, properties, system_changes)
        atoms = self.atoms
        model = self.model
        if not self._inputs or set(system_changes) - {"positions"}:
            pbc = np.asarray(atoms.pbc, bool)
            cell = np.array(atoms.cell.array, np.float64)
            model.check(atoms.numbers, cell, pbc)
            self._inputs = (atoms.numbers.astype(np.int32), cell.astype(model.dtype), pbc)
        with jax.enable_x64(model.dtype == np.float64):
            out = np.asarray(self._packed(np.asarray(atoms.positions, model.dtype),
                                          *self._inputs), np.float64)
        n = len(atoms)
        energy = float(out[n, 0])
        self.results = {"energy": energy, "free_energy": energy, "forces": out[:n]}
        if np.all(self._inputs[2]):
            self.results["stress"] = full_3x3_to_voigt_6_stress(out[n + 1:] / atoms.get_volume())
