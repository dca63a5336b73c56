"""Point-charge electrostatics in the internal units of `distillery.data.electrostatics`:
charges e, positions Å, dipoles e·Å, traceless quadrupoles e·Å² (Θ = ½ Σ q (3 d d - d² I),
d from the centre of mass), ESP eV/e.

The functions take numpy or JAX arrays and return the same kind, so the learned model
differentiates through them and the baselines run them in float64 numpy.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from ase.data import atomic_masses, vdw_radii

from distillery.data.electrostatics import COULOMB

Array = Any  # numpy or JAX array


def _xp(*arrays: Array) -> Any:
    return jnp if any(isinstance(a, jax.Array) for a in arrays) else np


def potential_matrix(grid: Array, sites: Array, mask: Array | None = None) -> Array:
    """(..., G, S): the ESP (eV/e) at each grid point of a unit charge on each site; sites
    with `mask` (..., S) False (padding) contribute nothing."""
    xp = _xp(grid, sites)
    r2 = xp.sum((grid[..., :, None, :] - sites[..., None, :, :]) ** 2, axis=-1)
    if mask is None:
        return COULOMB / xp.sqrt(r2)
    keep = mask[..., None, :]
    return xp.where(keep, COULOMB / xp.sqrt(xp.where(keep, r2, 1.0)), 0.0)


def esp(charges: Array, sites: Array, grid: Array, mask: Array | None = None) -> Array:
    """ESP (..., G) in eV/e of charges (..., S) at sites (..., S, 3) on grid points (..., G, 3)."""
    xp = _xp(charges, sites, grid)
    return xp.einsum("...gs,...s->...g", potential_matrix(grid, sites, mask), charges)


def centre_of_mass(positions: Array, numbers: Array) -> Array:
    """(..., 3): the origin of the quadrupoles; atoms of number 0 (padding) have no mass."""
    xp = _xp(positions)
    masses = xp.where(numbers > 0, xp.asarray(atomic_masses)[numbers], 0.0)
    total = xp.sum(masses, axis=-1)[..., None]
    return xp.sum(masses[..., None] * positions, axis=-2) / xp.where(total > 0, total, 1.0)


def dipole(charges: Array, sites: Array, origin: Array) -> Array:
    """(..., 3) in e·Å: Σ q (r - origin) (independent of the origin for a neutral molecule)."""
    xp = _xp(charges, sites, origin)
    return xp.sum(charges[..., None] * (sites - origin[..., None, :]), axis=-2)


def quadrupole(charges: Array, sites: Array, origin: Array) -> Array:
    """(..., 3, 3) traceless quadrupole in e·Å²: ½ Σ q (3 d d - |d|² I) with d = r - origin."""
    xp = _xp(charges, sites, origin)
    d = sites - origin[..., None, :]
    outer = 3.0 * d[..., :, None] * d[..., None, :] - xp.sum(d**2, -1)[..., None, None] * xp.eye(3)
    return 0.5 * xp.sum(charges[..., None, None] * outer, axis=-3)


def _sphere(n: int) -> np.ndarray:
    """`n` nearly uniform unit vectors (Fibonacci lattice)."""
    k = np.arange(n) + 0.5
    z = 1.0 - 2.0 * k / n
    phi = np.pi * (1.0 + 5**0.5) * k
    r = np.sqrt(1.0 - z**2)
    return np.stack([r * np.cos(phi), r * np.sin(phi), z], axis=1)


def vdw_surface(positions: np.ndarray, numbers: np.ndarray, n_points: int,
                scales: tuple[float, ...] = (1.4, 1.6, 1.8, 2.0), density: float = 1.0,
                rng: np.random.Generator | None = None) -> np.ndarray:
    """`n_points` ESP points (Å) on shells at `scales` x the vdW radii (ASE's, Bondi-based)
    outside every other atom's shell of the same scale (Merz-Kollman layers), about
    `density` points per Å² before `n_points` are drawn (by `rng`, or evenly spaced)."""
    radii = vdw_radii[numbers]
    points = []
    for scale in scales:
        for centre, radius in zip(positions, radii * scale, strict=True):
            n = max(int(np.ceil(4.0 * np.pi * radius**2 * density)), 8)
            shell = centre + radius * _sphere(n)
            gap = np.linalg.norm(shell[:, None] - positions[None], axis=-1) - radii * scale
            points.append(shell[np.all(gap > -1e-9, axis=1)])
    candidates = np.concatenate(points)
    if len(candidates) < n_points:
        raise ValueError(f"{len(candidates)} surface points, fewer than the {n_points} asked "
                         "for: raise the density")
    index = (np.sort(rng.choice(len(candidates), n_points, replace=False)) if rng is not None
             else np.linspace(0, len(candidates) - 1, n_points).round().astype(int))
    return candidates[index]


def fit_charges(grid: np.ndarray, values: np.ndarray, sites: np.ndarray,
                total_charge: float = 0.0) -> np.ndarray:
    """Point charges on `sites` (S, 3) whose ESP best fits `values` (G,) on `grid` (G, 3) in
    least squares with Σ q = `total_charge` exactly (a Lagrange multiplier, as in CHELPG)."""
    a = potential_matrix(np.asarray(grid, np.float64), np.asarray(sites, np.float64))
    n = a.shape[1]
    system = np.zeros((n + 1, n + 1))
    system[:n, :n] = a.T @ a
    system[:n, n] = system[n, :n] = 1.0
    rhs = np.concatenate([a.T @ np.asarray(values, np.float64), [total_charge]])
    # lstsq: buried atoms make the normal equations nearly singular; the constraint row holds
    return np.linalg.lstsq(system, rhs, rcond=None)[0][:n]
