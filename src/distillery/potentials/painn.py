"""PaiNN (Schütt et al. 2021): equivariant message passing with scalar and vector features."""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp

from distillery.potentials.layers import AtomwiseModel, bessel_basis, cosine_cutoff, edge_geometry


class PaiNN(AtomwiseModel):
    """Per-atom energies (or features) from atomic numbers and edge vectors (one frame,
    padded)."""

    @nn.compact
    def __call__(self, numbers: jnp.ndarray, vectors: jnp.ndarray, senders: jnp.ndarray,
                 receivers: jnp.ndarray, edge_mask: jnp.ndarray) -> jnp.ndarray:
        f = self.features
        n_atoms = numbers.shape[0]
        distance, unit = edge_geometry(vectors, edge_mask)
        envelope = cosine_cutoff(distance, self.cutoff) * edge_mask
        rbf = bessel_basis(distance, self.cutoff, self.n_rbf)
        s = nn.Embed(self.max_z + 1, f)(numbers)
        v = jnp.zeros((n_atoms, 3, f), s.dtype)
        for _ in range(self.n_layers):
            # message: invariant filters gate scalar and vector messages from neighbours
            phi = nn.Dense(3 * f)(jax.nn.silu(nn.Dense(f)(s)))
            w = nn.Dense(3 * f)(rbf) * envelope[:, None]
            x = phi[senders] * w
            ds, dvv, dvs = jnp.split(x, 3, axis=-1)
            dv = dvv[:, None, :] * v[senders] + dvs[:, None, :] * unit[:, :, None]
            s = s + jax.ops.segment_sum(ds, receivers, n_atoms)
            v = v + jax.ops.segment_sum(dv, receivers, n_atoms)
            # update: mix channels; norms and scalar products of vectors feed the scalars
            u_v = nn.Dense(f, use_bias=False)(v)
            v_v = nn.Dense(f, use_bias=False)(v)
            v_norm = jnp.sqrt(jnp.sum(v_v**2, axis=1) + 1e-8)
            a = nn.Dense(3 * f)(jax.nn.silu(nn.Dense(f)(jnp.concatenate([s, v_norm], -1))))
            avv, asv, ass = jnp.split(a, 3, axis=-1)
            v = v + avv[:, None, :] * u_v
            s = s + asv * jnp.sum(u_v * v_v, axis=1) + ass
        if self.features_only:
            return s
        hidden = jax.nn.silu(nn.Dense(max(f // 2, 1))(s))
        return nn.Dense(1)(hidden)[:, 0]
