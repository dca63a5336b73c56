"""Neighbour lists (with periodic images) and padded, fixed-shape frame buckets for jit."""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
from ase.neighborlist import primitive_neighbor_list

from distillery.data.frames import FrameSet


class Neighbours(NamedTuple):
    """Directed edges j -> i of one frame: r_ij = R[j] - R[i] + shifts[e] @ cell."""

    senders: np.ndarray  # (E,) int32, j
    receivers: np.ndarray  # (E,) int32, i
    shifts: np.ndarray  # (E, 3) integer image offsets as floats
    edge_mask: np.ndarray  # (E,) bool, False on padding


def neighbour_list(positions: np.ndarray, cutoff: float, cell: np.ndarray | None = None,
                   pbc: np.ndarray | None = None) -> Neighbours:
    """All pairs closer than `cutoff`, over as many periodic images as the cell needs."""
    positions = np.asarray(positions, np.float64)
    periodic = cell is not None and pbc is not None and bool(np.any(pbc))
    cell_arr = np.asarray(cell, np.float64) if periodic else np.zeros((3, 3))
    pbc_arr = np.asarray(pbc, bool) if periodic else np.zeros(3, bool)
    i, j, shifts = primitive_neighbor_list("ijS", pbc_arr, cell_arr, positions, float(cutoff),
                                           self_interaction=False)
    return Neighbours(j.astype(np.int32), i.astype(np.int32), shifts.astype(np.float64),
                      np.ones(len(i), bool))


def all_pairs(n_atoms: int) -> Neighbours:
    """Every ordered pair of distinct atoms of a non-periodic structure."""
    receivers, senders = np.nonzero(~np.eye(n_atoms, dtype=bool))
    return Neighbours(senders.astype(np.int32), receivers.astype(np.int32),
                      np.zeros((len(senders), 3)), np.ones(len(senders), bool))


def _round_up(n: int, multiple: int) -> int:
    return max(-(-n // multiple) * multiple, multiple)


def padded_edges(n: int, multiple: int) -> int:
    """`n` edges rounded up to a multiple of `multiple`, or of a quarter of the power of two
    at or above `n` when that is smaller (at least 16): a small molecule's few dozen edges are
    not padded to several times their number, while large graphs keep few distinct shapes."""
    step = min(multiple, max(16, (1 << max(n - 1, 1).bit_length()) >> 2))
    return _round_up(n, step)


@dataclass
class Bucket:
    """Frames padded to `n_atoms` atoms and `n_edges` edges; `index` maps rows to frames."""

    index: np.ndarray
    arrays: dict[str, np.ndarray]

    @property
    def n_atoms(self) -> int:
        return self.arrays["numbers"].shape[1]

    @property
    def n_edges(self) -> int:
        return self.arrays["senders"].shape[1]


def build_buckets(frames: FrameSet, cutoff: float, energy: np.ndarray | None = None,
                  forces: list[np.ndarray] | None = None, atom_multiple: int = 8,
                  edge_multiple: int = 256, extras: dict[str, list[np.ndarray]] | None = None,
                  min_edges: int = 0) -> list[Bucket]:
    """Group frames by padded atom count; pad atoms (number 0) and edges (mask False) to
    `padded_edges`, and to at least `min_edges` (a shape already compiled).

    Labels default to the frames' own; pass `energy`/`forces` to train on other targets
    (teacher labels, residuals after a prior). `extras` holds further per-atom (n_i, 3) arrays.
    """
    energy = frames.energy if energy is None else np.asarray(energy, np.float64)
    forces = frames.forces if forces is None else forces
    extras = extras or {}
    counts = frames.n_atoms
    padded = np.array([_round_up(int(n), atom_multiple) for n in counts])
    buckets = []
    for size in np.unique(padded):
        index = np.flatnonzero(padded == size)
        nbrs = [neighbour_list(frames.positions[k], cutoff,
                               None if frames.cell is None else frames.cell[k],
                               None if frames.pbc is None else frames.pbc[k]) for k in index]
        n_edges = max(padded_edges(max(len(nb.senders) for nb in nbrs), edge_multiple),
                      min_edges)
        n_frames = len(index)
        arrays = {
            "positions": np.zeros((n_frames, size, 3)),
            "numbers": np.zeros((n_frames, size), np.int32),
            "cell": np.zeros((n_frames, 3, 3)),
            "senders": np.zeros((n_frames, n_edges), np.int32),
            "receivers": np.zeros((n_frames, n_edges), np.int32),
            "shifts": np.zeros((n_frames, n_edges, 3)),
            "edge_mask": np.zeros((n_frames, n_edges), bool),
            "energy": np.zeros(n_frames),
            "forces": np.zeros((n_frames, size, 3)),
            "weight": np.ones(n_frames),
            **{name: np.zeros((n_frames, size, 3)) for name in extras},
        }
        for row, (k, nb) in enumerate(zip(index, nbrs, strict=True)):
            n, e = int(counts[k]), len(nb.senders)
            arrays["positions"][row, :n] = frames.positions[k]
            arrays["numbers"][row, :n] = frames.numbers[k]
            if frames.cell is not None:
                arrays["cell"][row] = frames.cell[k]
            arrays["senders"][row, :e] = nb.senders
            arrays["receivers"][row, :e] = nb.receivers
            arrays["shifts"][row, :e] = nb.shifts
            arrays["edge_mask"][row, :e] = True
            if energy is not None:
                arrays["energy"][row] = energy[k]
            if forces is not None:
                arrays["forces"][row, :n] = forces[k]
            for name, values in extras.items():
                arrays[name][row, :n] = values[k]
        buckets.append(Bucket(index, arrays))
    return buckets


def take_batch(bucket: Bucket, rows: np.ndarray, batch_size: int) -> dict[str, np.ndarray]:
    """Rows of a bucket padded to exactly `batch_size` frames (padding frames have weight 0)."""
    batch = {k: v[rows] for k, v in bucket.arrays.items()}
    missing = batch_size - len(rows)
    if missing > 0:
        batch = {k: np.concatenate([v, np.zeros((missing, *v.shape[1:]), v.dtype)])
                 for k, v in batch.items()}
    return batch


def batch_plan(buckets: list[Bucket], batch_size: int,
               rng: np.random.Generator | None = None) -> list[tuple[int, np.ndarray]]:
    """(bucket id, rows) for every batch of an epoch; shuffled within and across buckets."""
    plan = []
    for b, bucket in enumerate(buckets):
        rows = np.arange(len(bucket.index))
        if rng is not None:
            rows = rng.permutation(rows)
        plan += [(b, rows[s:s + batch_size]) for s in range(0, len(rows), batch_size)]
    if rng is not None:
        plan = [plan[i] for i in rng.permutation(len(plan))]
    return plan


class VerletList:
    """A neighbour list of range `cutoff + skin`, padded to an edge count that only grows (so a
    jit-compiled consumer recompiles a handful of times), valid while no atom has moved more
    than skin/2 since it was built: every pair then within `cutoff` is still on the list.

    A non-periodic list that holds every ordered pair never expires; a small molecule gets one
    when it costs at most twice the edges of the cutoff + skin list. Padding edges (mask False)
    join atom 0 to itself.
    """

    def __init__(self, cutoff: float, skin: float, edge_multiple: int = 256) -> None:
        self.cutoff, self.skin, self.edge_multiple = float(cutoff), float(skin), edge_multiple
        self.n_edges = 0
        self.neighbours: Neighbours | None = None
        self.reference = np.zeros((0, 3))
        self.complete = False
        self._cell = np.zeros((3, 3))
        self._pbc = np.zeros(3, bool)

    @property
    def max_displacement(self) -> float:
        """How far (Å) an atom may move from `reference` before the list expires."""
        return float("inf") if self.complete else 0.5 * self.skin

    def build(self, positions: np.ndarray, cell: np.ndarray | None = None,
              pbc: np.ndarray | None = None) -> Neighbours:
        """A fresh list at `positions` (kept as the reference), padded to `n_edges`."""
        positions = np.asarray(positions, np.float64)
        cell = np.zeros((3, 3)) if cell is None else np.asarray(cell, np.float64)
        pbc = np.zeros(3, bool) if pbc is None else np.asarray(pbc, bool)
        found = neighbour_list(positions, self.cutoff + self.skin, cell, pbc)
        n, e = len(positions), len(found.senders)
        if not np.any(pbc) and n * (n - 1) <= 2 * e:
            # a small molecule: every pair costs the model at most twice the list's edges,
            # and a list of every pair never expires
            found = all_pairs(n)
            e = len(found.senders)
        self.complete = not np.any(pbc) and e == n * (n - 1)
        self.n_edges = max(self.n_edges, padded_edges(e, self.edge_multiple))
        pad = self.n_edges - e
        self.neighbours = Neighbours(
            np.concatenate([found.senders, np.zeros(pad, np.int32)]),
            np.concatenate([found.receivers, np.zeros(pad, np.int32)]),
            np.concatenate([found.shifts, np.zeros((pad, 3))]),
            np.concatenate([found.edge_mask, np.zeros(pad, bool)]))
        self.reference, self._cell, self._pbc = positions.copy(), cell.copy(), pbc.copy()
        return self.neighbours

    def expired(self, positions: np.ndarray, cell: np.ndarray | None = None,
                pbc: np.ndarray | None = None) -> bool:
        """Whether the list no longer covers `positions` (moved atoms, another cell or size)."""
        cell = np.zeros((3, 3)) if cell is None else np.asarray(cell, np.float64)
        pbc = np.zeros(3, bool) if pbc is None else np.asarray(pbc, bool)
        if (self.neighbours is None or len(positions) != len(self.reference)
                or not np.array_equal(cell, self._cell) or not np.array_equal(pbc, self._pbc)):
            return True
        moved = np.sqrt(np.max(np.sum((positions - self.reference) ** 2, axis=1)))
        return not moved <= self.max_displacement  # NaN positions expire the list too
