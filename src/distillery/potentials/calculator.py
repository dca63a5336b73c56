"""An ASE calculator around a JAX force field (for MD driven by a trained model)."""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from ase import Atoms
from ase.calculators.calculator import Calculator, all_changes

from distillery.atoms_state import system_changes
from distillery.potentials.inference import bound_energy_and_forces
from distillery.potentials.model import ForceField, Params
from distillery.potentials.neighbours import VerletList

DEFAULT_SKIN = 0.5  # Å beyond the cutoff: an atom may move skin/2 before the list is rebuilt


def packed_energy_and_forces(energy_and_forces: Any) -> Any:
    """`energy_and_forces(*args)` compiled to return one (n_atoms + 1, 3) array: the forces,
    then the energy in the last row's first column. A call then reads back one array."""
    def packed(*args: Any) -> jax.Array:
        energy, forces = energy_and_forces(*args)
        return jnp.concatenate([forces, jnp.broadcast_to(energy, (1, 3)).astype(forces.dtype)])

    return jax.jit(packed)


class ModelCalculator(Calculator):
    """Energy and forces of one structure. The neighbour list has a skin and is rebuilt only
    when an atom moved more than half of it (or the cell, atoms or pbc changed, also after a
    `reset`); its padded edge count only grows, so jit compiles a handful of times in MD. A
    call sends the positions and reads back one array (forces and energy), nothing else."""

    implemented_properties = ("energy", "forces")

    def __init__(self, model: ForceField, params: Params, skin: float = DEFAULT_SKIN,
                 edge_multiple: int = 512, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.model = model
        self.params = params
        self._energy_and_forces = packed_energy_and_forces(bound_energy_and_forces(model,
                                                                                   params))
        self._list = VerletList(model.cutoff, skin, edge_multiple)
        self._numbers: np.ndarray | None = None  # atomic numbers of the current list
        self._static: tuple[Any, ...] = ()  # numbers, cell and neighbours on the device

    @property
    def n_edges(self) -> int:
        """Padded edge count of the shapes compiled so far."""
        return self._list.n_edges

    @property
    def skin(self) -> float:
        return self._list.skin

    def check_state(self, atoms: Atoms, tol: float = 1e-15) -> list[str]:
        return system_changes(self.atoms, atoms)

    def calculate(self, atoms: Any = None, properties: Any = ("energy",),
                  system_changes: Any = all_changes) -> None:
        super().calculate(atoms, properties, system_changes)
        positions, numbers = self.atoms.positions, self.atoms.numbers
        cell, pbc = self.atoms.cell.array, self.atoms.pbc
        # the list, not ASE's change flags, decides: a reset keeps a list that still holds
        if (self._numbers is None or not np.array_equal(numbers, self._numbers)
                or self._list.expired(positions, cell, pbc)):
            neighbours = self._list.build(positions, cell, pbc)
            self._numbers = numbers.copy()
            self._static = jax.device_put((numbers.astype(np.int32),
                                           np.asarray(cell, np.float64), neighbours))
        out = np.asarray(self._energy_and_forces(positions, *self._static))
        self.results = {"energy": float(out[-1, 0]), "forces": out[:-1].astype(np.float64)}
