"""NVE and Langevin MD with any ASE calculator: energy drift, time to first instability, and
sampled structures for the radial distribution function."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from ase import Atoms, units
from ase.md.langevin import Langevin
from ase.md.velocitydistribution import Stationary, thermalize_momenta
from ase.md.verlet import VelocityVerlet

from distillery.errors import ConfigError
from distillery.forcefield.rdf import pair_distances
from distillery.forcefield.settings import MDStabilitySettings
from distillery.io import atomic_write

ENSEMBLES = ("nve", "langevin")


@dataclass
class Trajectory:
    """Samples of one run; it stops at the first instability."""

    ensemble: str
    time_ps: np.ndarray
    potential: np.ndarray  # eV
    kinetic: np.ndarray  # eV
    max_force: np.ndarray  # eV/Å
    positions: np.ndarray  # (samples, n_atoms, 3) Å
    n_atoms: int
    unstable_at_ps: float | None = None
    reason: str | None = None

    @property
    def temperature(self) -> np.ndarray:
        """Instantaneous kinetic temperature (K), 3N degrees of freedom."""
        return 2.0 * self.kinetic / (3.0 * self.n_atoms * units.kB)


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
