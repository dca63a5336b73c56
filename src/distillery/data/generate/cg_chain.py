"""Coarse-grained reference data: a bead chain under a known potential, by Langevin dynamics.

U = sum_bonds k_b/2 (r - r0)^2 + sum_angles k_theta/2 (theta - theta0)^2
  + sum_dihedrals k_phi (1 + cos(n phi - delta)) + sum_{|i-j| >= 3} eps (sigma / r)^12

Energies are produced in kcal/mol and lengths in Å (converted at ingest); the true parameters
are written beside the data in eV, Å and radians so prior fits can be checked against them.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import jax
import jax.numpy as jnp
import numpy as np
from ase import units

from distillery.data.settings import CgChainGenerate

KCAL_PER_MOL_IN_EV = units.kcal / units.mol
BOLTZMANN_KCAL = units.kB / KCAL_PER_MOL_IN_EV  # kcal/mol/K
# acceleration of 1 kcal/mol/Å on 1 amu, in Å/ps²
ACCEL_UNIT = 418.4


@dataclass(frozen=True)
class ChainPotential:
    """True parameters in kcal/mol, Å and radians."""

    n_beads: int = 12
    k_bond: float = 100.0
    r0: float = 3.8
    k_angle: float = 20.0
    theta0: float = 1.9
    k_dihedral: float = 1.0
    multiplicity: int = 1
    delta: float = 0.0
    epsilon: float = 0.5
    sigma: float = 3.0
    exponent: int = 12
    min_separation: int = 3


def _geometry(x: jnp.ndarray, n: int) -> tuple[jnp.ndarray, jnp.ndarray, jnp.ndarray]:
    b = x[1:] - x[:-1]
    r = jnp.linalg.norm(b, axis=-1)
    u1, u2 = -b[:-1], b[1:]
    cos_t = jnp.sum(u1 * u2, -1) / (jnp.linalg.norm(u1, axis=-1) * jnp.linalg.norm(u2, axis=-1))
    theta = jnp.arccos(jnp.clip(cos_t, -1.0 + 1e-7, 1.0 - 1e-7))
    b1, b2, b3 = b[:-2], b[1:-1], b[2:]
    n1, n2 = jnp.cross(b1, b2), jnp.cross(b2, b3)
    m1 = jnp.cross(n1, b2 / jnp.linalg.norm(b2, axis=-1, keepdims=True))
    phi = jnp.arctan2(jnp.sum(m1 * n2, -1), jnp.sum(n1 * n2, -1))
    return r, theta, phi


def chain_energy(p: ChainPotential, x: jnp.ndarray) -> jnp.ndarray:
    """Potential energy (kcal/mol) of one chain with positions x (n_beads, 3)."""
    r, theta, phi = _geometry(x, p.n_beads)
    energy = 0.5 * p.k_bond * jnp.sum((r - p.r0) ** 2)
    energy += 0.5 * p.k_angle * jnp.sum((theta - p.theta0) ** 2)
    energy += p.k_dihedral * jnp.sum(1.0 + jnp.cos(p.multiplicity * phi - p.delta))
    i, j = np.triu_indices(p.n_beads, k=p.min_separation)
    d = jnp.linalg.norm(x[i] - x[j], axis=-1)
    return energy + p.epsilon * jnp.sum((p.sigma / d) ** p.exponent)


def _initial_chain(p: ChainPotential) -> np.ndarray:
    """Planar zig-zag: bonds r0, angles theta0, all dihedrals trans (the energy minimum)."""
    half = (np.pi - p.theta0) / 2
    steps = np.array([[np.cos(half), (-1) ** k * np.sin(half), 0.0] for k in range(p.n_beads - 1)])
    return np.vstack([np.zeros(3), np.cumsum(p.r0 * steps, axis=0)])


def simulate_chain(settings: CgChainGenerate, potential: ChainPotential, temperature: float,
                   seed: int) -> dict[str, np.ndarray]:
    """BAOAB Langevin of independent replicas at `temperature` (K); MD17-style arrays in
    kcal/mol and Å."""
    mass, timestep_ps, replicas = settings.mass, settings.timestep_ps, settings.replicas
    n_frames = settings.n_frames
    kt = BOLTZMANN_KCAL * temperature
    # jitted: op-by-op dispatch would compile every primitive of the potential on its own
    energy_fn = jax.jit(jax.vmap(lambda x: chain_energy(potential, x)))
    force_fn = jax.jit(jax.vmap(jax.grad(lambda x: -chain_energy(potential, x))))
    c1 = np.exp(-settings.friction * timestep_ps)
    c2 = np.sqrt((1 - c1**2) * kt * ACCEL_UNIT / mass)

    def step(state, key):
        x, v, f = state
        v = v + 0.5 * timestep_ps * ACCEL_UNIT * f / mass
        x = x + 0.5 * timestep_ps * v
        v = c1 * v + c2 * jax.random.normal(key, v.shape)
        x = x + 0.5 * timestep_ps * v
        f = force_fn(x)
        v = v + 0.5 * timestep_ps * ACCEL_UNIT * f / mass
        return x, v, f

    @jax.jit
    def run(state, key, n_steps):
        # the step count is traced, not static: equilibration and sampling share one compile
        return jax.lax.fori_loop(0, n_steps, lambda i, s: step(s, jax.random.fold_in(key, i)),
                                 state)

    per_replica = -(-n_frames // replicas)
    key = jax.random.PRNGKey(seed)
    x = jnp.tile(jnp.asarray(_initial_chain(potential), jnp.float32), (replicas, 1, 1))
    v = jnp.zeros_like(x)
    state = (x, v, force_fn(x))
    key, sub = jax.random.split(key)
    state = run(state, sub, settings.equilibration)
    positions = []
    for k in range(per_replica):
        key, sub = jax.random.split(key)
        state = run(state, sub, settings.stride)
        positions.append(np.asarray(state[0]))
        if (k + 1) % 5 == 0:
            print(f"cg_chain: {(k + 1) * replicas}/{per_replica * replicas} frames", flush=True)
    # frame order: all replicas at sample 0, then sample 1, ... (kept, not shuffled)
    R = np.concatenate(positions)[:n_frames].astype(np.float64)
    E = np.asarray(energy_fn(jnp.asarray(R)), np.float64)
    F = np.asarray(force_fn(jnp.asarray(R)), np.float64)
    if not (np.isfinite(R).all() and np.isfinite(F).all()):
        raise RuntimeError("chain simulation became unstable; reduce the timestep")
    z = np.full(potential.n_beads, 6, dtype=np.int64)
    return {"R": R, "z": z, "E": E, "F": F}


def truth(potential: ChainPotential, temperature: float) -> dict[str, object]:
    """True parameters in eV, Å and radians for checking prior fits."""
    p = asdict(potential)
    ev = KCAL_PER_MOL_IN_EV
    return {
        "convention": "harmonic terms k/2 (x - x0)^2; dihedral k (1 + cos(n phi - delta))",
        "units": {"energy": "eV", "length": "angstrom", "angle": "radian"},
        "temperature": temperature,
        "kT": units.kB * temperature,
        "bond": {"k": p["k_bond"] * ev, "r0": p["r0"]},
        "angle": {"k": p["k_angle"] * ev, "theta0": p["theta0"]},
        "dihedral": {"k": p["k_dihedral"] * ev, "n": p["multiplicity"], "delta": p["delta"]},
        "repulsion": {"epsilon": p["epsilon"] * ev, "sigma": p["sigma"],
                      "exponent": p["exponent"], "min_separation": p["min_separation"]},
        "n_beads": p["n_beads"],
    }
