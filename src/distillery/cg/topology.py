"""Bonded topology of a coarse-grained molecule: bonds, angles, dihedrals, non-bonded pairs."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from distillery.cg.mapping import BeadInfo
from distillery.cg.settings import PriorFitSettings
from distillery.errors import InputError


@dataclass(frozen=True)
class Topology:
    """Index arrays into the bead list; `pairs` are non-bonded pairs beyond the exclusions."""

    n_beads: int
    bonds: np.ndarray  # (n_bonds, 2)
    angles: np.ndarray  # (n_angles, 3), middle bead in the centre
    dihedrals: np.ndarray  # (n_dihedrals, 4)
    pairs: np.ndarray  # (n_pairs, 2)
    exclusion: int  # pairs are at least this many bonds apart
    types: tuple[str, ...] = ()  # bead types; empty: one type for every bead

    def interactions(self, kind: str) -> np.ndarray:
        """Index array of `bond`, `angle`, `dihedral` or `pair` interactions."""
        return {"bond": self.bonds, "angle": self.angles, "dihedral": self.dihedrals,
                "pair": self.pairs}[kind]

    def classes(self, kind: str) -> tuple[list[str], np.ndarray]:
        """Class names ("N-CA-C": the bead types along the interaction, read in the direction
        that sorts first) and the class index of each interaction of `kind`."""
        types = self.types or ("bead",) * self.n_beads
        keys = ["-".join(min(t, t[::-1])) for t in
                (tuple(types[i] for i in row) for row in self.interactions(kind).tolist())]
        names = sorted(set(keys))
        return names, np.array([names.index(k) for k in keys], np.int64)

    def to_dict(self) -> dict[str, object]:
        return {"n_beads": self.n_beads, "bonds": self.bonds.tolist(),
                "exclusion": self.exclusion, "types": list(self.types)}


def _graph_distances(n_beads: int, bonds: np.ndarray) -> np.ndarray:
    """Shortest path lengths in bonds (Floyd–Warshall; CG molecules have few beads)."""
    dist = np.full((n_beads, n_beads), np.inf)
    np.fill_diagonal(dist, 0.0)
    dist[bonds[:, 0], bonds[:, 1]] = dist[bonds[:, 1], bonds[:, 0]] = 1.0
    for k in range(n_beads):
        dist = np.minimum(dist, dist[:, k : k + 1] + dist[k : k + 1, :])
    return dist


def from_bonds(n_beads: int, bonds: Sequence[Sequence[int]], exclusion: int = 3,
               source: str = "config", types: Sequence[str] = ()) -> Topology:
    """Angles and dihedrals are every path of two and three bonds in the bond graph; `types`
    (one per bead, or none) decide the interaction classes that share prior parameters."""
    b = np.asarray(bonds, dtype=np.int64).reshape(-1, 2)
    if len(b) == 0 or b.min() < 0 or b.max() >= n_beads or np.any(b[:, 0] == b[:, 1]):
        raise InputError(source, "cg.topology.bonds", b.tolist(),
                         f"pairs of distinct bead indices in [0, {n_beads})")
    if exclusion < 2:
        raise InputError(source, "cg.exclusion", exclusion, "an integer >= 2")
    if types and (len(types) != n_beads or any("-" in t or not t for t in types)):
        raise InputError(source, "cg.mapping.types", list(types),
                         f"{n_beads} non-empty bead type names without '-'")
    neighbours: list[set[int]] = [set() for _ in range(n_beads)]
    for i, j in b:
        neighbours[i].add(int(j))
        neighbours[j].add(int(i))
    angle_list = sorted({_canonical((i, j, k)) for j in range(n_beads)
                         for i in neighbours[j] for k in neighbours[j] if i != k})
    dihedral_list = sorted({_canonical((i, j, k, m)) for j, k in b.tolist()
                            for i in neighbours[j] - {k} for m in neighbours[k] - {j, i}})
    dist = _graph_distances(n_beads, b)
    i, j = np.triu_indices(n_beads, k=1)
    far = dist[i, j] >= exclusion
    return Topology(
        n_beads=n_beads,
        bonds=np.array(sorted(_canonical(tuple(p)) for p in b.tolist()), np.int64),
        angles=np.array(angle_list, np.int64).reshape(-1, 3),
        dihedrals=np.array(dihedral_list, np.int64).reshape(-1, 4),
        pairs=np.stack([i[far], j[far]], axis=1).astype(np.int64),
        exclusion=exclusion,
        types=tuple(types),
    )


def chain(n_beads: int, exclusion: int = 3, source: str = "config",
          types: Sequence[str] = ()) -> Topology:
    """A linear chain bonded in bead order."""
    return from_bonds(n_beads, [(i, i + 1) for i in range(n_beads - 1)], exclusion, source,
                      types)


def _canonical(path: tuple[int, ...]) -> tuple[int, ...]:
    # a path and its reverse are the same interaction
    return min(path, path[::-1])


def from_config(cg: PriorFitSettings, beads: BeadInfo, source: str = "config") -> Topology:
    """`cg.topology`: chain (bonds in bead order), a bond list, or `mapping` (the bonds between
    beads of a topology-file mapping); `cg.exclusion` is the bond separation from which pairs
    count as non-bonded. Bead types come from the mapping."""
    n_beads, types = len(beads.types), beads.types
    if cg.topology.kind == "chain":
        return chain(n_beads, cg.exclusion, source, types)
    if cg.topology.kind == "mapping":
        if not beads.bonds:
            raise InputError(source, "cg.topology.kind", "mapping",
                             "chain or list: this mapping has no topology file to take bonds "
                             "from (use cg.mapping.kind: selection)")
        return from_bonds(n_beads, beads.bonds, cg.exclusion, source, types)
    return from_bonds(n_beads, [list(b) for b in cg.topology.bonds], cg.exclusion, source, types)
