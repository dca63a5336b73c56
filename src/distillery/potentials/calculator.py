"""An ASE calculator around a JAX force field (for MD driven by a trained model)."""

from __future__ import annotations

from typing import Any

import jax
import numpy as np
from ase.calculators.calculator import Calculator, all_changes

from distillery.potentials.inference import bound_energy_and_forces
from distillery.potentials.model import ForceField, Params
from distillery.potentials.neighbours import VerletList

DEFAULT_SKIN = 0.5  # Å beyond the cutoff: an atom may move skin/2 before the list is rebuilt


class ModelCalculator(Calculator):
    """Energy and forces of one structure. The neighbour list has a skin and is rebuilt only
    when an atom moved more than half of it (or the cell, atoms or pbc changed); its padded edge
    count only grows, so jit compiles a handful of times in MD. A call sends the positions and
    reads back the energy and forces, nothing else."""

    implemented_properties = ("energy", "forces")

    def __init__(self, model: ForceField, params: Params, skin: float = DEFAULT_SKIN,
                 edge_multiple: int = 512, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.model = model
        self.params = params
        self._energy_and_forces = bound_energy_and_forces(model, params)
        self._list = VerletList(model.cutoff, skin, edge_multiple)
        self._static: tuple[Any, ...] = ()  # numbers, cell and neighbours on the device

    @property
    def n_edges(self) -> int:
        """Padded edge count of the shapes compiled so far."""
        return self._list.n_edges

    @property
    def skin(self) -> float:
        return self._list.skin

    def calculate(self, atoms: Any = None, properties: Any = ("energy",),
                  system_changes: Any = all_changes) -> None:
        super().calculate(atoms, properties, system_changes)
        positions = self.atoms.positions
        cell, pbc = self.atoms.cell.array, self.atoms.pbc
        if set(system_changes) - {"positions"} or self._list.expired(positions, cell, pbc):
            neighbours = self._list.build(positions, cell, pbc)
            self._static = jax.device_put((self.atoms.numbers.astype(np.int32),
                                           np.asarray(cell, np.float64), neighbours))
        numbers, cell_dev, neighbours = self._static
        energy, forces = jax.device_get(
            self._energy_and_forces(positions, numbers, cell_dev, neighbours))
        self.results = {"energy": float(energy), "forces": np.asarray(forces, np.float64)}
