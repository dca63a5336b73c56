"""Internal coordinates of bead configurations, written once for numpy and jax.numpy.

Every function takes positions of shape (..., n_beads, 3), index arrays from a `Topology`,
and the array namespace `xp` (numpy for histograms, jax.numpy for differentiable energies).
"""

from __future__ import annotations

from typing import Any

import numpy as np

# keeps arccos differentiable at exactly straight or folded angles
_COS_LIMIT = 1.0 - 1e-7


def _take(x: Any, index: np.ndarray) -> Any:
    return x[..., index, :]


def bond_lengths(x: Any, bonds: np.ndarray, xp: Any = np) -> Any:
    """|x_j - x_i| for each bond (i, j); shape (..., n_bonds)."""
    return xp.linalg.norm(_take(x, bonds[:, 1]) - _take(x, bonds[:, 0]), axis=-1)


def angles(x: Any, triplets: np.ndarray, xp: Any = np) -> Any:
    """Angle at the middle bead of each (i, j, k) in radians, in [0, pi]; shape (..., n)."""
    u = _take(x, triplets[:, 0]) - _take(x, triplets[:, 1])
    v = _take(x, triplets[:, 2]) - _take(x, triplets[:, 1])
    cos = xp.sum(u * v, axis=-1) / (xp.linalg.norm(u, axis=-1) * xp.linalg.norm(v, axis=-1))
    return xp.arccos(xp.clip(cos, -_COS_LIMIT, _COS_LIMIT))


def dihedrals(x: Any, quads: np.ndarray, xp: Any = np) -> Any:
    """Torsion of each (i, j, k, l) in radians, in [-pi, pi]; planar trans is +-pi.

    IUPAC sign, as MDTraj and Ramachandran plots use it: positive when, looking along j -> k,
    the bond k -> l is turned clockwise from i -> j; atan2(b2/|b2| . (n1 x n2), n1 . n2) with
    n1 = b1 x b2, n2 = b2 x b3."""
    b1 = _take(x, quads[:, 1]) - _take(x, quads[:, 0])
    b2 = _take(x, quads[:, 2]) - _take(x, quads[:, 1])
    b3 = _take(x, quads[:, 3]) - _take(x, quads[:, 2])
    n1 = xp.cross(b1, b2)
    n2 = xp.cross(b2, b3)
    axis = b2 / xp.linalg.norm(b2, axis=-1, keepdims=True)
    return xp.arctan2(xp.sum(axis * xp.cross(n1, n2), axis=-1), xp.sum(n1 * n2, axis=-1))


def end_to_end(x: Any, xp: Any = np) -> Any:
    """Distance between the first and the last bead; shape (...)."""
    return xp.linalg.norm(x[..., -1, :] - x[..., 0, :], axis=-1)


def radius_of_gyration(x: Any, xp: Any = np) -> Any:
    """Root mean square distance of the beads from their centroid; shape (...)."""
    centred = x - xp.mean(x, axis=-2, keepdims=True)
    return xp.sqrt(xp.mean(xp.sum(centred**2, axis=-1), axis=-1))
