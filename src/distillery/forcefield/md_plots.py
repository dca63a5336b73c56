"""Figures of the MD stability runs: NVE energy, Langevin temperature, g(r) vs reference."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from distillery.forcefield.md_stability import Trajectory
from distillery.io import atomic_path

Runs = Mapping[str, list[Trajectory]]  # model -> its trajectories


def _save(fig: Figure, path: str | Path) -> None:
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=120, bbox_inches="tight")


def _mark_instability(ax, run: Trajectory, colour: str) -> None:
    if run.unstable_at_ps is not None:
        ax.axvline(run.unstable_at_ps, color=colour, ls=":", lw=1)


def nve_energy_plot(path: str | Path, runs: Runs) -> None:
    """Total energy per atom relative to its start (meV/atom) against time, per model."""
    fig = Figure(figsize=(7, 4))
    ax = fig.subplots()
    for k, (model, trajectories) in enumerate(runs.items()):
        colour = f"C{k}"
        for i, run in enumerate(t for t in trajectories if t.ensemble == "nve"):
            total = (run.potential + run.kinetic) / run.n_atoms
            ax.plot(run.time_ps, 1000 * (total - total[0]), color=colour, lw=1,
                    label=model if i == 0 else None)
            _mark_instability(ax, run, colour)
    ax.set_xlabel("time (ps)")
    ax.set_ylabel("E_total - E_total(0) (meV/atom)")
    ax.set_title("NVE energy conservation (dotted: first instability)")
    ax.legend()
    _save(fig, path)


def langevin_temperature_plot(path: str | Path, runs: Runs, target: float) -> None:
    fig = Figure(figsize=(7, 4))
    ax = fig.subplots()
    for k, (model, trajectories) in enumerate(runs.items()):
        colour = f"C{k}"
        for i, run in enumerate(t for t in trajectories if t.ensemble == "langevin"):
            ax.plot(run.time_ps, run.temperature, color=colour, lw=1,
                    label=model if i == 0 else None)
            _mark_instability(ax, run, colour)
    ax.axhline(target, color="k", ls="--", lw=0.8, label="thermostat")
    ax.set_xlabel("time (ps)")
    ax.set_ylabel("kinetic temperature (K)")
    ax.set_title("Langevin MD (dotted: first instability)")
    ax.legend()
    _save(fig, path)


def rdf_plot(path: str | Path, r: np.ndarray, reference: np.ndarray,
             curves: Mapping[str, np.ndarray]) -> None:
    fig = Figure(figsize=(7, 4))
    ax = fig.subplots()
    ax.plot(r, reference, color="k", lw=2, label="reference (test split)")
    for k, (model, g) in enumerate(curves.items()):
        ax.plot(r, g, color=f"C{k}", lw=1.2, label=f"{model} (Langevin)")
    ax.set_xlabel("r (Å)")
    ax.set_ylabel("g(r); molecule: pair-distance density (1/Å)")
    ax.legend()
    _save(fig, path)
