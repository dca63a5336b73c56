"""All-atom frames to coarse-grained beads: positions by weighted centres, forces by sums.

A mapping assigns each bead a group of atoms and weights that sum to one. Bead positions are the
weighted centres of their groups; bead forces are the sums of the forces on the group's atoms
(the consistent force map for a slice mapping, where every atom belongs to at most one bead).
An index map (e.g. C-alpha) is the special case of one-atom groups.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from ase.data import atomic_masses

from distillery.cg.settings import MappingSettings
from distillery.errors import InputError


@dataclass(frozen=True)
class CGMapping:
    """Dense (n_beads, n_atoms) matrices: `position_weights` rows sum to 1, `force_map` is 0/1."""

    position_weights: np.ndarray
    force_map: np.ndarray

    @property
    def n_beads(self) -> int:
        return self.position_weights.shape[0]

    def positions(self, atom_positions: np.ndarray) -> np.ndarray:
        """(..., n_atoms, 3) -> (..., n_beads, 3)."""
        return np.einsum("ba,...ax->...bx", self.position_weights, atom_positions)

    def forces(self, atom_forces: np.ndarray) -> np.ndarray:
        """(..., n_atoms, 3) -> (..., n_beads, 3) by summing each bead's atoms."""
        return np.einsum("ba,...ax->...bx", self.force_map, atom_forces)

    def bead_numbers(self, numbers: np.ndarray) -> np.ndarray:
        """Bead type: the atomic number of the heaviest-weighted atom of each bead."""
        return np.asarray(numbers)[np.argmax(self.position_weights, axis=1)]


def from_groups(groups: Sequence[Sequence[int]], numbers: np.ndarray,
                weights: str = "mass", source: str = "config") -> CGMapping:
    """Beads from atom groups; `weights` is "mass" (centre of mass) or "uniform" (centroid)."""
    n_atoms = len(numbers)
    if not groups:
        raise InputError(source, "cg.mapping", "no beads", "at least one bead")
    seen: set[int] = set()
    for bead, group in enumerate(groups):
        bad = [a for a in group if not 0 <= a < n_atoms]
        if not group or bad:
            raise InputError(source, f"cg.mapping.groups[{bead}]", list(group),
                             f"a non-empty list of atom indices in [0, {n_atoms})")
        if seen.intersection(group):
            raise InputError(source, f"cg.mapping.groups[{bead}]", list(group),
                             "atoms not already in another bead (a slice mapping)")
        seen.update(group)
    if weights not in ("mass", "uniform"):
        raise InputError(source, "cg.mapping.weights", weights, "mass or uniform")
    mass = atomic_masses[np.asarray(numbers)] if weights == "mass" else np.ones(n_atoms)
    position_weights = np.zeros((len(groups), n_atoms))
    force_map = np.zeros((len(groups), n_atoms))
    for bead, group in enumerate(groups):
        idx = np.asarray(group)
        position_weights[bead, idx] = mass[idx] / mass[idx].sum()
        force_map[bead, idx] = 1.0
    return CGMapping(position_weights, force_map)


def from_indices(indices: Sequence[int], numbers: np.ndarray,
                 source: str = "config") -> CGMapping:
    """One bead per selected atom (e.g. the C-alpha atoms)."""
    return from_groups([[int(i)] for i in indices], numbers, "uniform", source)


def from_config(cfg: MappingSettings, numbers: np.ndarray, source: str = "config") -> CGMapping:
    """`cg.mapping`: identity, an index map (`indices`) or atom groups (`groups`, `weights`)."""
    if cfg.kind == "identity":
        return from_indices(range(len(numbers)), numbers, source)
    if cfg.kind == "index":
        return from_indices(cfg.indices, numbers, source)
    return from_groups([list(g) for g in cfg.groups], numbers, cfg.weights, source)
