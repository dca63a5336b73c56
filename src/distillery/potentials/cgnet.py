"""CGnet-style feature network (Wang et al., ACS Cent. Sci. 2019) for one coarse-grained
molecule: its energy is an MLP with tanh activations of the molecule's geometry, every
bead-pair distance, the cosine of every angle and the sine and cosine of every dihedral,
each standardised with its training-set mean and spread.

Distances and angles do not change under a reflection, but sin(phi) changes sign, so unlike a
network on distances alone (SchNet, PaiNN) this one can give a chiral conformation (the alpha_R
basin of a peptide) and its mirror image different energies.
"""

from __future__ import annotations

from collections.abc import Sequence

import flax.linen as nn
import jax.numpy as jnp
import numpy as np

# a feature's spread below this is treated as no spread (a constant feature is only centred)
_MIN_STD = 1e-6


def _norm(v: jnp.ndarray) -> jnp.ndarray:
    """|v| along the last axis; 1 for zero vectors, so that the all-zero padding frames of a
    training batch give finite features and gradients."""
    r2 = jnp.sum(v**2, axis=-1)
    return jnp.sqrt(jnp.where(r2 > 0, r2, 1.0))


def _take(x: jnp.ndarray, rows: np.ndarray, column: int) -> jnp.ndarray:
    return x[..., rows[:, column], :]


def geometry_features(positions: jnp.ndarray, n_beads: int,
                      angles: Sequence[Sequence[int]],
                      dihedrals: Sequence[Sequence[int]]) -> jnp.ndarray:
    """Features (..., n_pairs + n_angles + 2 n_dihedrals) of positions (..., n >= n_beads, 3):
    the distances of the bead pairs i < j, cos(theta) of each angle (i, j, k), then
    sin(phi) and cos(phi) of each dihedral (i, j, k, l) with phi the IUPAC torsion of
    `cg.geometry.dihedrals` (and MDTraj). Rows beyond `n_beads` (padding) are ignored."""
    i, j = np.triu_indices(n_beads, k=1)
    distances = _norm(positions[..., j, :] - positions[..., i, :])
    a = np.asarray(angles, np.int64).reshape(-1, 3)
    u = _take(positions, a, 0) - _take(positions, a, 1)
    v = _take(positions, a, 2) - _take(positions, a, 1)
    cos_angle = jnp.sum(u * v, axis=-1) / (_norm(u) * _norm(v))
    d = np.asarray(dihedrals, np.int64).reshape(-1, 4)
    b1 = _take(positions, d, 1) - _take(positions, d, 0)
    b2 = _take(positions, d, 2) - _take(positions, d, 1)
    b3 = _take(positions, d, 3) - _take(positions, d, 2)
    n1, n2 = jnp.cross(b1, b2), jnp.cross(b2, b3)
    # (b2/|b2|) . (n1 x n2) = |b2| b1 . n2, and (|b2| b1 . n2)^2 + (n1 . n2)^2 = |n1|^2 |n2|^2
    sin_part = _norm(b2) * jnp.sum(b1 * n2, axis=-1)
    cos_part = jnp.sum(n1 * n2, axis=-1)
    length = _norm(jnp.stack([sin_part, cos_part], axis=-1))
    return jnp.concatenate([distances, cos_angle, sin_part / length, cos_part / length],
                           axis=-1)


def feature_stats(positions: np.ndarray, n_beads: int, angles: Sequence[Sequence[int]],
                  dihedrals: Sequence[Sequence[int]]) -> dict[str, np.ndarray]:
    """Mean and standard deviation of each feature over frames (n_frames, n_beads, 3)."""
    features = np.asarray(geometry_features(jnp.asarray(positions), n_beads, angles,
                                            dihedrals), np.float64)
    std = features.std(axis=0)
    return {"mean": features.mean(axis=0), "std": np.where(std > _MIN_STD, std, 1.0)}


class CGnet(nn.Module):
    """Energy (in units of the force field's scale) of one frame's positions."""

    width: int
    depth: int
    n_beads: int
    angles: tuple[tuple[int, int, int], ...]
    dihedrals: tuple[tuple[int, int, int, int], ...]

    @nn.compact
    def __call__(self, positions: jnp.ndarray, mean: jnp.ndarray,
                 std: jnp.ndarray) -> jnp.ndarray:
        features = geometry_features(positions, self.n_beads, self.angles, self.dihedrals)
        h = (features - mean) / std
        for _ in range(self.depth):
            h = jnp.tanh(nn.Dense(self.width)(h))
        return nn.Dense(1)(h)[0]

    @property
    def n_features(self) -> int:
        return self.n_beads * (self.n_beads - 1) // 2 + len(self.angles) + 2 * len(self.dihedrals)
