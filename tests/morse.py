"""A smooth Morse pair potential with parameters: the analytic model of the export tests."""

from __future__ import annotations

import jax.numpy as jnp

from distillery.forcefield.export.neighbours import dense_neighbours

CUTOFF = 3.4  # Å, below half of the 2x2x2 fcc Cu test cell (7.2 Å)
PARAMS = {"depth": jnp.float32(0.35), "alpha": jnp.float32(1.4), "r0": jnp.float32(2.6)}


def morse_energy(params, positions, numbers, cell, pbc):
    """Sum over pairs of D((1 - exp(-a(r - r0)))^2 - 1) times a smooth cutoff switch (eV)."""
    senders, receivers, shifts, mask = dense_neighbours(positions, cell, pbc, CUTOFF)
    vectors = positions[senders] - positions[receivers] + shifts @ cell
    r = jnp.sqrt(jnp.where(mask, jnp.sum(vectors**2, axis=-1), 1.0))
    decay = jnp.exp(-params["alpha"] * (r - params["r0"]))
    switch = 0.5 * (jnp.cos(jnp.pi * r / CUTOFF) + 1.0)
    pair = params["depth"] * ((1.0 - decay) ** 2 - 1.0) * switch
    return 0.5 * jnp.sum(jnp.where(mask, pair, 0.0))
