"""ASE calculator around an exported force field: energy, forces and (periodic) stress."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from ase.calculators.calculator import Calculator, all_changes
from ase.stress import full_3x3_to_voigt_6_stress

from distillery.forcefield.export.jax_loader import ExportedForceField


class ExportedCalculator(Calculator):
    """`ExportedCalculator("results/md/export/student")` for ASE MD and optimisers.

    Stress (ASE sign convention, (1/V) dE/d(strain), Voigt order) is given for fully periodic
    cells.
    """

    implemented_properties = ("energy", "free_energy", "forces", "stress")

    def __init__(self, model: str | Path | ExportedForceField, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.model = model if isinstance(model, ExportedForceField) else ExportedForceField(model)

    def calculate(self, atoms: Any = None, properties: Any = ("energy",),
                  system_changes: Any = all_changes) -> None:
        super().calculate(atoms, properties, system_changes)
        atoms = self.atoms
        pbc = np.asarray(atoms.pbc, bool)
        out = self.model.predict(atoms.positions, atoms.numbers, atoms.cell.array, pbc)
        self.results = {"energy": out.energy, "free_energy": out.energy, "forces": out.forces}
        if np.all(pbc):
            stress = out.virial / atoms.get_volume()
            self.results["stress"] = full_3x3_to_voigt_6_stress(stress)
