"""All-atom frames to coarse-grained beads: positions by weighted centres, forces by sums.

A mapping assigns each bead a group of atoms and weights that sum to one. Bead positions are the
weighted centres of their groups; bead forces are the sums of the forces on the group's atoms.
An index map (e.g. C-alpha) is the special case of one-atom groups: a slice map, whose bead
force is the force on that one atom. A selection map puts every hydrogen into the group of the
heavy atom it is bonded to and sums their forces (an aggregated force map) while the bead sits
on the selected atom (`weights: selected`) or the group's centre: moving the bead moves the
group rigidly, so the summed force is the mean force of that coordinate, and a constraint
force along a bond inside one group cancels in the sum. A slice map of a reference with
constrained X-H bonds lacks the constraint force on X; `constraint_warnings` says so.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from ase.data import atomic_masses, chemical_symbols

from distillery.cg.settings import MappingSettings
from distillery.errors import InputError
from distillery.io import read_json, write_json


@dataclass(frozen=True)
class BeadInfo:
    """What the mapping knows about its beads: type names, the bead pairs whose atoms are
    bonded (only from a topology file) and a label per bead."""

    types: tuple[str, ...]
    bonds: tuple[tuple[int, int], ...] = ()
    labels: tuple[str, ...] = ()

    def save(self, path: str | Path) -> None:
        write_json(path, {"types": list(self.types), "bonds": [list(b) for b in self.bonds],
                          "labels": list(self.labels)})

    @classmethod
    def load(cls, path: str | Path) -> BeadInfo:
        data = read_json(path)
        try:
            return cls(tuple(data["types"]), tuple(tuple(b) for b in data["bonds"]),
                       tuple(data["labels"]))
        except (KeyError, TypeError) as exc:
            raise InputError(path, str(exc), "a missing entry",
                             "types, bonds and labels as written by cg_map") from exc


@dataclass(frozen=True)
class CGMapping:
    """Dense (n_beads, n_atoms) matrices: `position_weights` rows sum to 1, `force_map` is 0/1."""

    position_weights: np.ndarray
    force_map: np.ndarray
    beads: BeadInfo | None = field(default=None)

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


def bead_info(mapping: CGMapping, numbers: np.ndarray, types: Any = "element") -> BeadInfo:
    """The mapping's bead info, or types from the main atom's element (or given per bead)."""
    if mapping.beads is not None and not isinstance(types, tuple):
        return mapping.beads
    if isinstance(types, tuple):
        if len(types) != mapping.n_beads:
            raise InputError("config", "cg.mapping.types", list(types),
                             f"one type per bead ({mapping.n_beads})")
        old = mapping.beads or BeadInfo(types)
        return BeadInfo(tuple(types), old.bonds, old.labels)
    if types != "element":
        raise InputError("config", "cg.mapping.types", types,
                         "element, or a list of names (name and residue_name need kind: "
                         "selection)")
    return BeadInfo(tuple(chemical_symbols[z] for z in mapping.bead_numbers(numbers)))


def from_selection(cfg: MappingSettings, numbers: np.ndarray, source: str = "config"
                   ) -> CGMapping:
    """One bead per atom of the MDTraj `cfg.selection` on `cfg.topology`; each hydrogen joins
    the bead of its bonded heavy atom, other unselected atoms are left out. Beads are bonded
    where any of their atoms are."""
    import mdtraj

    from distillery.data.generate import shipped_file

    if cfg.topology is None:
        raise InputError(source, "cg.mapping.topology", "nothing",
                         "a PDB file of the all-atom molecule for a selection mapping")
    top = mdtraj.load_topology(str(shipped_file(cfg.topology)))
    if top.n_atoms != len(numbers):
        raise InputError(cfg.topology, "atoms", top.n_atoms,
                         f"the {len(numbers)} atoms of the frames")
    try:
        selected = [int(i) for i in top.select(cfg.selection)]
    except Exception as exc:  # MDTraj raises several types for a bad expression
        raise InputError(source, "cg.mapping.selection", cfg.selection,
                         f"an MDTraj selection ({exc})") from None
    if not selected:
        raise InputError(source, "cg.mapping.selection", cfg.selection,
                         "a selection that matches at least one atom")
    bead_of = {a: b for b, a in enumerate(selected)}
    groups = [[a] for a in selected]
    for x, y in ((b.atom1, b.atom2) for b in top.bonds):
        for h, heavy in ((x, y), (y, x)):
            is_h = h.element is not None and h.element.symbol == "H"
            if is_h and h.index not in bead_of and heavy.index in bead_of:
                groups[bead_of[heavy.index]].append(h.index)
    owner = {a: b for b, g in enumerate(groups) for a in g}
    bonds = sorted({tuple(sorted((owner[b.atom1.index], owner[b.atom2.index])))
                    for b in top.bonds if b.atom1.index in owner and b.atom2.index in owner
                    and owner[b.atom1.index] != owner[b.atom2.index]})
    atoms = [top.atom(a) for a in selected]
    named = {"name": lambda a: a.name, "residue_name": lambda a: f"{a.residue.name}:{a.name}"}
    types = tuple(map(named[cfg.types], atoms)) if cfg.types in named else cfg.types
    mapping = from_groups(groups, numbers, "mass" if cfg.weights == "selected" else cfg.weights,
                          source)
    weights = mapping.position_weights
    if cfg.weights == "selected":
        weights = np.zeros_like(weights)
        weights[np.arange(len(selected)), selected] = 1.0
    labels = tuple(f"{a.residue.name}{a.residue.resSeq}:{a.name}" for a in atoms)
    beads = BeadInfo(tuple(a.element.symbol for a in atoms), tuple(bonds), labels)
    if isinstance(types, tuple):
        beads = BeadInfo(types, beads.bonds, labels)
        bead_info(CGMapping(weights, mapping.force_map, beads), numbers, types)  # checks count
    return CGMapping(weights, mapping.force_map, beads)


def bonds_to_hydrogen(topology: str | Path) -> list[tuple[int, int]]:
    """Atom pairs of the bonds to hydrogen in a topology file (what HBonds constrains)."""
    import mdtraj

    from distillery.data.generate import shipped_file

    top = mdtraj.load_topology(str(shipped_file(topology)))
    return [(b.atom1.index, b.atom2.index) for b in top.bonds
            if "H" in (getattr(b.atom1.element, "symbol", ""),
                       getattr(b.atom2.element, "symbol", ""))]


def constraint_warnings(mapping: CGMapping, constrained: Sequence[tuple[int, int]]) -> list[str]:
    """Constrained atom pairs whose constraint force does not cancel in the bead forces: one
    atom's force is summed into a bead and the other's is not summed into the same bead."""
    bead = np.where(mapping.force_map.any(axis=0), mapping.force_map.argmax(axis=0), -1)
    out = []
    for i, j in constrained:
        if (bead[i] >= 0 or bead[j] >= 0) and bead[i] != bead[j]:
            out.append(f"atoms {i} and {j} are constrained but their forces go to different "
                       f"beads ({bead[i]}, {bead[j]}; -1: none): the saved forces lack the "
                       "constraint force, so these bead forces are not mean forces")
    return out


def from_config(cfg: MappingSettings, numbers: np.ndarray, source: str = "config") -> CGMapping:
    """`cg.mapping`: identity, an index map (`indices`), atom groups (`groups`, `weights`) or
    an MDTraj selection on a topology file (`selection`, `topology`)."""
    if cfg.kind == "selection":
        return from_selection(cfg, numbers, source)
    if cfg.weights == "selected":
        raise InputError(source, "cg.mapping.weights", "selected", "mass or uniform "
                         "(selected needs kind: selection)")
    if cfg.kind == "identity":
        mapping = from_indices(range(len(numbers)), numbers, source)
    elif cfg.kind == "index":
        mapping = from_indices(cfg.indices, numbers, source)
    else:
        mapping = from_groups([list(g) for g in cfg.groups], numbers, cfg.weights, source)
    return CGMapping(mapping.position_weights, mapping.force_map,
                     bead_info(mapping, numbers, cfg.types))
