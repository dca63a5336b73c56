"""Edge geometry, radial basis and smooth cutoff shared by the force-field models."""

from __future__ import annotations

import flax.linen as nn
import jax.numpy as jnp


def edge_geometry(vectors: jnp.ndarray, edge_mask: jnp.ndarray
                  ) -> tuple[jnp.ndarray, jnp.ndarray]:
    """Distances and unit vectors; padded edges get distance 1 and a zero unit vector.

    The `where` keeps sqrt away from zero-length padding edges, whose gradient would be NaN.
    """
    r2 = jnp.sum(vectors**2, axis=-1)
    distance = jnp.sqrt(jnp.where(edge_mask, r2, 1.0))
    unit = jnp.where(edge_mask[:, None], vectors / distance[:, None], 0.0)
    return distance, unit


def cosine_cutoff(distance: jnp.ndarray, cutoff: float) -> jnp.ndarray:
    """0.5 (cos(pi r / rc) + 1) inside the cutoff, 0 outside: smooth energy at the cutoff."""
    inside = distance < cutoff
    return jnp.where(inside, 0.5 * (jnp.cos(jnp.pi * distance / cutoff) + 1.0), 0.0)


def bessel_basis(distance: jnp.ndarray, cutoff: float, n_basis: int) -> jnp.ndarray:
    """sqrt(2/rc) sin(n pi r / rc) / r for n = 1..n_basis, shape (E, n_basis)."""
    n = jnp.arange(1, n_basis + 1, dtype=distance.dtype)
    r = distance[:, None]
    return jnp.sqrt(2.0 / cutoff) * jnp.sin(n * jnp.pi * r / cutoff) / r


class AtomwiseModel(nn.Module):
    """The architecture fields every force-field network takes (see ModelSettings).

    `features_only`: return the per-atom scalar features (n_atoms, features) before the
    energy readout, the representation other heads (charges) build on.
    """

    features: int
    n_layers: int
    n_rbf: int
    cutoff: float
    max_z: int
    features_only: bool = False
