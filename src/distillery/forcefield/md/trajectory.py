"""Output of an engine run: extended XYZ samples and a JSON-able summary."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from ase import Atoms
from ase.io import write

from distillery.forcefield.md.engine import MDRun
from distillery.forcefield.md_stability import Trajectory, energy_drift
from distillery.io import atomic_path


def write_extxyz(path: Path, start: Atoms, trajectory: Trajectory) -> None:
    """One frame per sample: positions, with time, energies, temperature and largest force in
    its info."""
    frames = []
    for k, positions in enumerate(trajectory.positions):
        frame = start.copy()
        frame.positions = positions
        frame.info = {"time_ps": float(trajectory.time_ps[k]),
                      "potential_energy": float(trajectory.potential[k]),
                      "kinetic_energy": float(trajectory.kinetic[k]),
                      "temperature": float(trajectory.temperature[k]),
                      "max_force": float(trajectory.max_force[k])}
        frames.append(frame)
    with atomic_path(path) as tmp:
        write(tmp, frames, format="extxyz")


def summary(run: MDRun) -> dict[str, Any]:
    """Speed and the run's energy and temperature figures."""
    trajectory = run.trajectory
    return {"ensemble": trajectory.ensemble, "steps": run.steps, "n_atoms": trajectory.n_atoms,
            "steps_per_s": run.steps_per_s, "seconds": run.seconds,
            "compile_seconds": run.compile_seconds, "list_builds": run.list_builds,
            "mean_temperature_K": float(np.mean(trajectory.temperature)),
            "energy_drift_eV_per_atom_per_ps": energy_drift(trajectory),
            "stopped_at_ps": trajectory.unstable_at_ps, "reason": trajectory.reason}
