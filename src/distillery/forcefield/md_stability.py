"""NVE and Langevin MD stability runs: energy drift, time to first instability, and sampled
structures for the radial distribution function.

A JAX model (an export, a trained model) runs in the JAX engine (`run_native`,
`distillery.forcefield.md`), with the instability criteria checked at every step inside the
compiled steps; any other ASE calculator (a foundation-model or tight-binding teacher) runs in
ASE's integrators (`run_md`), with the same criteria checked after every step.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from ase import Atoms, units
from ase.md.langevin import Langevin
from ase.md.velocitydistribution import Stationary, thermalize_momenta
from ase.md.verlet import VelocityVerlet

from distillery.errors import ConfigError
from distillery.forcefield.md import MDRun, MDSettings, Potential, maxwell_boltzmann, simulate
from distillery.forcefield.md.engine import STOPPED, StopCondition, Trajectory
from distillery.forcefield.rdf import pair_distances
from distillery.forcefield.settings import MDStabilitySettings
from distillery.io import atomic_write

ENSEMBLES = ("nve", "langevin")
# which integrators ran a model: the JAX engine, or ASE's with the model's calculator
ENGINES = ("jax", "ase")


def nearest_neighbours(positions: np.ndarray, cell: np.ndarray, pbc: np.ndarray) -> np.ndarray:
    """Nearest-neighbour distance of every atom (Å)."""
    n = len(positions)
    i, j = np.triu_indices(n, k=1)
    d = pair_distances(positions, cell, pbc)
    nearest = np.full(n, np.inf)
    np.minimum.at(nearest, i, d)
    np.minimum.at(nearest, j, d)
    return nearest


def instability(atoms: Atoms, reference_nearest: np.ndarray, settings: MDStabilitySettings
                ) -> str | None:
    """Why the structure is unphysical (bond stretch, collapse, force blow-up), or None."""
    energy = atoms.get_potential_energy()
    forces = atoms.get_forces()
    if not (np.isfinite(energy) and np.all(np.isfinite(forces))):
        return "non-finite energy or forces"
    max_force = float(np.linalg.norm(forces, axis=1).max())
    if max_force > settings.max_force:
        return f"force blow-up: max |F| {max_force:.1f} eV/Å > {settings.max_force}"
    nearest = nearest_neighbours(atoms.positions, atoms.cell.array, atoms.pbc)
    stretch = float(np.max(nearest / reference_nearest))
    if stretch > settings.bond_factor:
        return f"bond stretch: nearest neighbour x{stretch:.2f} > {settings.bond_factor}"
    if nearest.min() < settings.collapse_factor * reference_nearest.min():
        return f"collapse: closest pair {nearest.min():.2f} Å"
    return None


def _nearest_in_jax(positions: jax.Array, cell: jax.Array, inverse: jax.Array,
                    periodic: jax.Array) -> jax.Array:
    """`nearest_neighbours` inside a compiled step: the same minimum-image arithmetic as
    `pair_distances` (`inverse`: the inverse cell, the identity without periodic axes)."""
    n = positions.shape[0]
    delta = positions[None, :, :] - positions[:, None, :]
    fractional = delta @ inverse
    fractional = fractional - jnp.where(periodic, jnp.round(fractional), 0.0)
    delta = jnp.where(jnp.any(periodic), fractional @ cell, delta)
    distance = jnp.sqrt(jnp.sum(delta**2, axis=-1))
    return jnp.min(jnp.where(jnp.eye(n, dtype=bool), jnp.inf, distance), axis=1)


def _unstable(positions: jax.Array, energy: jax.Array, forces: jax.Array,
              reference: jax.Array, cell: jax.Array, inverse: jax.Array, periodic: jax.Array,
              limits: jax.Array) -> jax.Array:
    """`instability` as a predicate of one state (the engine checks non-finite values itself);
    `limits`: max_force, bond_factor, collapse_factor."""
    max_force, bond_factor, collapse_factor = limits[0], limits[1], limits[2]
    blow_up = jnp.sqrt(jnp.max(jnp.sum(forces**2, axis=-1))) > max_force
    nearest = _nearest_in_jax(positions, cell, inverse, periodic)
    stretch = jnp.max(nearest / reference) > bond_factor
    collapse = jnp.min(nearest) < collapse_factor * jnp.min(reference)
    return blow_up | stretch | collapse


def stability_condition(start: Atoms, settings: MDStabilitySettings) -> StopCondition:
    """The instability criteria of `instability`, relative to the nearest neighbours of
    `start`, as the JAX engine's stop condition."""
    cell, pbc = np.asarray(start.cell.array, np.float64), np.asarray(start.pbc, bool)
    periodic = pbc if np.any(pbc) else np.zeros(3, bool)
    inverse = np.linalg.inv(cell) if np.any(periodic) else np.eye(3)
    reference = nearest_neighbours(start.positions, cell, pbc)
    limits = np.array([settings.max_force, settings.bond_factor, settings.collapse_factor])
    return StopCondition(_unstable, (reference, cell, inverse, periodic, limits))


def run_native(start: Atoms, potential: Potential, ensemble: str,
               settings: MDStabilitySettings, seed: int) -> MDRun:
    """`run_md` in the JAX engine: the same seeded Maxwell-Boltzmann start, `settings.steps`
    steps of velocity Verlet (NVE) or BAOAB Langevin, integrated in double precision (as ASE
    does), stopping at the first step that `instability` flags; the trajectory gives its
    reason as `instability` words it."""
    if ensemble not in ENSEMBLES:
        raise ConfigError(f"MD ensemble: found {ensemble!r}, expected one of {list(ENSEMBLES)}")
    atoms = maxwell_boltzmann(start, settings.temperature, seed)
    md = MDSettings(ensemble=ensemble, steps=settings.steps, timestep_fs=settings.timestep_fs,
                    temperature=settings.temperature, friction_per_ps=settings.friction_per_ps,
                    sample_every=settings.sample_every, seed=seed, float64=True)
    run = simulate(potential, atoms, md, stability_condition(atoms, settings))
    if run.trajectory.reason == STOPPED:
        reference = nearest_neighbours(atoms.positions, atoms.cell.array, atoms.pbc)
        # the same test in double precision on the host; at a bound both may round apart
        run.trajectory.reason = instability(run.final, reference, settings) or STOPPED
    return run


def _integrator(atoms: Atoms, ensemble: str, settings: MDStabilitySettings,
                rng: np.random.Generator):
    timestep = settings.timestep_fs * units.fs
    if ensemble == "nve":
        return VelocityVerlet(atoms, timestep)
    if ensemble == "langevin":
        friction = settings.friction_per_ps / (1000.0 * units.fs)
        return Langevin(atoms, timestep, temperature_K=settings.temperature, friction=friction,
                        fixcm=False, rng=rng)
    raise ConfigError(f"MD ensemble: found {ensemble!r}, expected one of {list(ENSEMBLES)}")


def run_md(start: Atoms, calculator: Any, ensemble: str, settings: MDStabilitySettings, seed: int,
           progress_every: int = 0) -> Trajectory:
    """Seeded Maxwell-Boltzmann velocities at `settings.temperature`, then `settings.steps`
    steps of the ensemble; stops at the first instability."""
    atoms = start.copy()
    atoms.calc = calculator
    rng = np.random.default_rng(seed)
    thermalize_momenta(atoms, temperature_K=settings.temperature, rng=rng)
    Stationary(atoms)
    dyn = _integrator(atoms, ensemble, settings, rng)
    reference = nearest_neighbours(atoms.positions, atoms.cell.array, atoms.pbc)
    samples: dict[str, list] = {"time_ps": [], "potential": [], "kinetic": [], "max_force": [],
                                "positions": []}
    unstable_at, reason = None, None
    for step, _ in enumerate(dyn.irun(settings.steps)):
        time_ps = step * settings.timestep_fs / 1000.0
        reason = instability(atoms, reference, settings)
        if reason is not None:
            unstable_at = time_ps
            break
        if step % settings.sample_every == 0:
            samples["time_ps"].append(time_ps)
            samples["potential"].append(atoms.get_potential_energy())
            samples["kinetic"].append(atoms.get_kinetic_energy())
            samples["max_force"].append(float(np.linalg.norm(atoms.get_forces(), axis=1).max()))
            samples["positions"].append(atoms.positions.copy())
        if progress_every and step % progress_every == 0:
            print(f"  {ensemble} step {step}/{settings.steps}: "
                  f"E_pot {atoms.get_potential_energy():.4f} eV, "
                  f"T {atoms.get_temperature():.0f} K", flush=True)
    arrays = {k: np.asarray(v, np.float64) for k, v in samples.items()}
    return Trajectory(ensemble=ensemble, n_atoms=len(atoms), unstable_at_ps=unstable_at,
                      reason=reason, **arrays)


def energy_drift(trajectory: Trajectory) -> float:
    """Slope of the total energy per atom against time (eV/atom/ps), least squares."""
    total = (trajectory.potential + trajectory.kinetic) / trajectory.n_atoms
    if len(total) < 2:
        return float("nan")
    slope, _ = np.polyfit(trajectory.time_ps, total, 1)
    return float(slope)


def summarise(trajectory: Trajectory, settings: MDStabilitySettings) -> dict[str, Any]:
    """Stability numbers of one run: drift for NVE, mean temperature for Langevin."""
    planned_ps = settings.steps * settings.timestep_fs / 1000.0
    summary: dict[str, Any] = {
        "ensemble": trajectory.ensemble,
        "planned_ps": planned_ps,
        "stable": trajectory.unstable_at_ps is None,
        "time_to_instability_ps": trajectory.unstable_at_ps,
        "instability": trajectory.reason,
        "mean_temperature_K": (float(np.mean(trajectory.temperature))
                               if len(trajectory.time_ps) else float("nan")),
    }
    if trajectory.ensemble == "nve":
        total = (trajectory.potential + trajectory.kinetic) / trajectory.n_atoms
        summary["energy_drift_eV_per_atom_per_ps"] = energy_drift(trajectory)
        summary["energy_spread_eV_per_atom"] = float(np.ptp(total))
    return summary


_ARRAYS = ("time_ps", "potential", "kinetic", "max_force", "positions")


def save_trajectories(path: str | Path, trajectories: list[Trajectory]) -> None:
    """One NPZ: arrays `<run>/<field>` plus a JSON header with the scalars of every run."""
    header = [{"ensemble": t.ensemble, "n_atoms": t.n_atoms, "unstable_at_ps": t.unstable_at_ps,
               "reason": t.reason} for t in trajectories]
    arrays = {f"{i}/{name}": getattr(t, name) for i, t in enumerate(trajectories)
              for name in _ARRAYS}
    with atomic_write(path) as handle:
        np.savez(handle, header=np.asarray(json.dumps(header)), **arrays)


def load_trajectories(path: str | Path) -> list[Trajectory]:
    with np.load(path) as stored:
        header = json.loads(str(stored["header"]))
        return [Trajectory(**scalars, **{name: stored[f"{i}/{name}"] for name in _ARRAYS})
                for i, scalars in enumerate(header)]
