"""Hessian-vector products of a force field along random directions (distillation targets)."""

from __future__ import annotations

from collections.abc import Mapping

import jax
import jax.numpy as jnp
import numpy as np

from distillery.data.frames import FrameSet
from distillery.potentials.model import ForceField, Params
from distillery.potentials.neighbours import Neighbours, batch_plan, build_buckets, take_batch


def force_jvp(model: ForceField, params: Params, batch: Mapping[str, jnp.ndarray]
              ) -> jnp.ndarray:
    """d F / d R along `batch["hvp_dir"]`, i.e. -H v per frame, shape (B, N, 3)."""
    def one(positions, numbers, cell, senders, receivers, shifts, mask, direction):
        def forces(r):
            return model.energy_and_forces(
                params, r, numbers, cell, Neighbours(senders, receivers, shifts, mask))[1]
        return jax.jvp(forces, (positions,), (direction,))[1]

    return jax.vmap(one)(batch["positions"], batch["numbers"], batch["cell"], batch["senders"],
                         batch["receivers"], batch["shifts"], batch["edge_mask"],
                         batch["hvp_dir"])


def hvp_targets(model: ForceField, params: Params, frames: FrameSet, seed: int,
                batch_size: int = 8) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """One standard-normal direction per frame and the model's -H v along it."""
    rng = np.random.default_rng(seed)
    directions = [rng.standard_normal((len(z), 3)) for z in frames.numbers]
    buckets = build_buckets(frames, model.cutoff, extras={"hvp_dir": directions})
    fn = jax.jit(lambda p, b: force_jvp(model, p, b))
    targets: list[np.ndarray] = [np.empty((0, 3))] * len(frames)
    for b, rows in batch_plan(buckets, batch_size):
        out = np.asarray(jax.device_get(fn(params, take_batch(buckets[b], rows, batch_size))))
        for row, k in enumerate(buckets[b].index[rows]):
            targets[k] = out[row, :len(frames.numbers[k])].astype(np.float64)
    return directions, targets
