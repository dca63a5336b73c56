"""All-pairs neighbours inside JAX, so an exported force field needs no external list.

Every ordered pair (j, i) is an edge with the minimum-image shift; pairs beyond the cutoff and
self pairs are masked. Exact while the cutoff is below half of every cell width, which
`check_cell` enforces.
"""

from __future__ import annotations

from typing import NamedTuple

import jax.numpy as jnp
import numpy as np


class DenseNeighbours(NamedTuple):
    """Same layout as the training neighbour lists: r_ij = R[j] - R[i] + shifts[e] @ cell."""

    senders: jnp.ndarray
    receivers: jnp.ndarray
    shifts: jnp.ndarray
    edge_mask: jnp.ndarray


def dense_neighbours(positions: jnp.ndarray, cell: jnp.ndarray, pbc: jnp.ndarray,
                     cutoff: float) -> DenseNeighbours:
    """n*n edges (works with a symbolic atom count); shifts are constant under small moves."""
    n = positions.shape[0]
    index = jnp.arange(n, dtype=jnp.int32)
    senders = jnp.broadcast_to(index[:, None], (n, n)).reshape(-1)
    receivers = jnp.broadcast_to(index[None, :], (n, n)).reshape(-1)
    delta = positions[senders] - positions[receivers]
    periodic = jnp.all(jnp.asarray(pbc, bool))
    # a non-periodic frame may have a singular cell: invert the identity instead
    safe_cell = jnp.where(periodic, cell, jnp.eye(3, dtype=cell.dtype))
    shifts = jnp.where(periodic, -jnp.round(delta @ jnp.linalg.inv(safe_cell)), 0.0)
    vectors = delta + shifts @ cell
    distance2 = jnp.sum(vectors**2, axis=-1)
    mask = (senders != receivers) & (distance2 < cutoff**2)
    return DenseNeighbours(senders, receivers, shifts, mask)


def cell_widths(cell: np.ndarray) -> np.ndarray:
    """Distances between opposite faces of the cell (Å)."""
    cell = np.asarray(cell, np.float64)
    volume = abs(np.linalg.det(cell))
    return volume / np.linalg.norm(np.cross(cell[[1, 2, 0]], cell[[2, 0, 1]]), axis=1)


def minimum_image_problem(cell: np.ndarray, pbc: np.ndarray, cutoff: float) -> str | None:
    """Why the minimum image would miss or double-count neighbours, or None when exact."""
    pbc = np.asarray(pbc, bool)
    if not np.any(pbc):
        return None
    if not np.all(pbc):
        return f"pbc {pbc.tolist()} (periodic along some axes only)"
    widths = cell_widths(cell)
    if np.any(widths <= 2.0 * cutoff):
        return f"cell widths {np.round(widths, 3).tolist()} Å not above 2 x cutoff {cutoff} Å"
    return None
