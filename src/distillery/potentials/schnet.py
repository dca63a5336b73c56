"""SchNet-like invariant model (Schütt et al. 2018): continuous-filter convolutions."""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp

from distillery.potentials.layers import AtomwiseModel, bessel_basis, cosine_cutoff, edge_geometry


class SchNet(AtomwiseModel):
    """Per-atom energies (or features) from atomic numbers and edge vectors (one frame,
    padded)."""

    @nn.compact
    def __call__(self, numbers: jnp.ndarray, vectors: jnp.ndarray, senders: jnp.ndarray,
                 receivers: jnp.ndarray, edge_mask: jnp.ndarray) -> jnp.ndarray:
        f = self.features
        distance, _ = edge_geometry(vectors, edge_mask)
        envelope = cosine_cutoff(distance, self.cutoff) * edge_mask
        rbf = bessel_basis(distance, self.cutoff, self.n_rbf)
        h = nn.Embed(self.max_z + 1, f)(numbers)
        for _ in range(self.n_layers):
            w = nn.Dense(f)(jax.nn.silu(nn.Dense(f)(rbf))) * envelope[:, None]
            x = nn.Dense(f, use_bias=False)(h)
            m = jax.ops.segment_sum(x[senders] * w, receivers, h.shape[0])
            h = h + nn.Dense(f)(jax.nn.silu(nn.Dense(f)(m)))
        if self.features_only:
            return h
        hidden = jax.nn.silu(nn.Dense(max(f // 2, 1))(h))
        return nn.Dense(1)(hidden)[:, 0]
