"""Langevin dynamics (BAOAB) of a coarse-grained model in JAX, from several starting frames."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from ase import units
from ase.data import atomic_masses

from distillery.cg import geometry
from distillery.cg.settings import SimulationSettings
from distillery.cg.topology import Topology

_PS = 1000.0 * units.fs  # one picosecond in ASE time units (Å sqrt(amu/eV))


@dataclass
class Trajectory:
    positions: np.ndarray  # (n_records, n_replicas, n_beads, 3), Å
    time_ps: np.ndarray  # (n_records,)


def langevin(energy_fn: Callable[[jnp.ndarray], jnp.ndarray], start: np.ndarray,
             numbers: np.ndarray, temperature: float, settings: SimulationSettings,
             seed: int, log: Callable[[str], None] = print) -> Trajectory:
    """BAOAB integration of independent replicas from `start` (n_replicas, n_beads, 3)."""
    kt = units.kB * temperature
    dt = settings.timestep * _PS
    mass = jnp.asarray(atomic_masses[np.asarray(numbers)])[:, None]
    c1 = jnp.exp(-settings.friction / _PS * dt)
    c2 = jnp.sqrt((1.0 - c1**2) * kt / mass)
    force_fn = jax.jit(jax.vmap(jax.grad(lambda x: -energy_fn(x))))

    def step(state, key):
        x, v, f = state
        v = v + 0.5 * dt * f / mass
        x = x + 0.5 * dt * v
        v = c1 * v + c2 * jax.random.normal(key, v.shape, v.dtype)
        x = x + 0.5 * dt * v
        f = force_fn(x)
        v = v + 0.5 * dt * f / mass
        return (x, v, f), None

    @partial(jax.jit, static_argnums=2)
    def run(state, key, n_steps):
        return jax.lax.scan(step, state, jax.random.split(key, n_steps))[0]

    key = jax.random.PRNGKey(seed)
    key, sub = jax.random.split(key)
    x = jnp.asarray(start, jnp.float32)
    v = jax.random.normal(sub, x.shape) * jnp.sqrt(kt / mass)
    state = (x, v, force_fn(x))
    n_records = settings.steps // settings.stride
    records = []
    report_every = max(n_records // 10, 1)
    for k in range(n_records):
        key, sub = jax.random.split(key)
        state = run(state, sub, settings.stride)
        records.append(np.asarray(state[0], np.float64))
        if (k + 1) % report_every == 0 or k + 1 == n_records:
            log(f"langevin: {(k + 1) * settings.stride}/{n_records * settings.stride} steps")
        if not np.isfinite(records[-1]).all():
            log(f"langevin: non-finite positions after {(k + 1) * settings.stride} steps; "
                "stopping")
            break
    positions = np.stack(records)
    time_ps = settings.timestep * settings.stride * np.arange(1, len(records) + 1)
    return Trajectory(positions, time_ps)


def stability(traj: Trajectory, topology: Topology, max_bond: float,
              planned_records: int) -> dict[str, Any]:
    """Stable: every recorded frame is finite and no bond ever exceeds `max_bond` (Å), over
    the planned length. A replica is stable when its own frames are; a run stops when any
    replica turns non-finite, so then none ran its planned length."""
    finite_replica = np.isfinite(traj.positions).all(axis=(2, 3))  # (n_records, n_replicas)
    bonds = geometry.bond_lengths(np.where(np.isfinite(traj.positions), traj.positions, 0.0),
                                  topology.bonds)
    broken_replica = ~finite_replica | (bonds.max(axis=2) > max_bond)
    finite = finite_replica.all(axis=1)
    longest = bonds.max(axis=(1, 2))
    broken = broken_replica.any(axis=1)
    first = int(np.argmax(broken)) if broken.any() else None
    complete = len(traj.time_ps) == planned_records
    return {
        "stable": bool(not broken.any() and complete),
        "n_replicas": int(traj.positions.shape[1]),
        "stable_replicas": int((~broken_replica.any(axis=0)).sum()) if complete else 0,
        "finite": bool(finite.all()),
        "max_bond_threshold": float(max_bond),
        "longest_bond": float(np.nanmax(np.where(finite, longest, np.nan)))
        if finite.any() else None,
        "first_unstable_ps": None if first is None else float(traj.time_ps[first]),
        "simulated_ps": float(traj.time_ps[-1]) if len(traj.time_ps) else 0.0,
    }
