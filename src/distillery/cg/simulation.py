"""The `cg_simulate` step: Langevin runs of the CG models from test frames, their
distributions against the reference (Jensen–Shannon divergences, a 2-D free-energy surface)
beside the reference's own sampling noise, and stability."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from ase import units

from distillery.cg import geometry
from distillery.cg.compare import coordinate_histograms, fes_histograms, free_energy
from distillery.cg.delta import combined_energy
from distillery.cg.langevin import Trajectory, langevin, stability
from distillery.cg.plots import plot_distributions, plot_fes, plot_placeholder
from distillery.cg.serialise import load_priors
from distillery.cg.settings import CGModel, SimulationSettings
from distillery.cg.topology import Topology
from distillery.data.frames import FrameSet, read_frames
from distillery.data.splits import read_splits
from distillery.io import atomic_path, atomic_write, write_json
from distillery.potentials.model import load_model
from distillery.train.jax_device import describe_jax_device

PathLike = str | Path
SIMULATED: tuple[CGModel, ...] = ("full", "prior-only")


def start_frames(test: FrameSet, n: int) -> np.ndarray:
    """Up to `n` test frames spread evenly over the split: the replicas' starts."""
    picks = np.unique(np.linspace(0, len(test) - 1, min(n, len(test))).round()).astype(int)
    return test.stacked_positions()[picks]


def finite_frames(traj: Trajectory) -> np.ndarray:
    """Every recorded frame of every replica, those with non-finite positions left out."""
    frames = traj.positions.reshape(-1, *traj.positions.shape[2:])
    return frames[np.isfinite(frames).all(axis=(1, 2))]


def reference_floor(reference: np.ndarray, topology: Topology,
                    settings: SimulationSettings) -> dict[str, float]:
    """The divergences between two halves of the reference: the sampling-noise floor."""
    halves = reference[::2], reference[1::2]
    floor = {name: h.divergence for name, h in
             coordinate_histograms(*halves, topology, settings.bins).items()}
    floor["fes"] = fes_histograms(*halves, topology, settings.fes, settings.bins,
                                  settings.variables).divergence
    return floor


def cg_simulate(frames: PathLike, splits: PathLike, priors: PathLike,
                settings: SimulationSettings, models: Sequence[CGModel], *,
                out_summary: PathLike, out_table: PathLike, out_trajectory: PathLike,
                out_distributions: PathLike, out_fes: PathLike,
                delta: PathLike | None = None) -> dict[str, Any]:
    """Simulate `models` (`CGSettings.simulated`: `full` and/or `prior-only`, the first the
    one reported, its trajectory kept) at the resolved `settings.temperature`; `delta`, the
    delta model's file, serves `full`. Returns the summary written to `out_summary`."""
    unknown = [m for m in models if m not in SIMULATED or (m == "full" and delta is None)]
    if unknown or not models:
        raise ValueError(f"coarse-grained simulation of {list(models)}: expected full (with "
                         "a delta model) and/or prior-only")
    every = read_frames(frames)
    test = every.subset(read_splits(splits)["test"])
    reference, starts = every.stacked_positions(), start_frames(test, settings.starts)
    numbers = test.numbers[0]
    prior = load_priors(priors)
    net, net_params = load_model(Path(delta).parent) if delta is not None else (None, None)
    top, temperature = prior.topology, float(settings.temperature)
    kt = units.kB * temperature
    max_bond = settings.bond_factor * float(geometry.bond_lengths(reference, top.bonds).max())
    runs = {}
    for mode in models:
        print(f"{mode}: simulating {len(starts)} replicas for {settings.steps} steps of "
              f"{settings.timestep} ps at {temperature} K")
        energy = combined_energy(prior, *((net, net_params) if mode == "full" else (None, None)),
                                 numbers)
        traj = langevin(energy, starts, numbers, temperature, settings, settings.seed)
        runs[mode] = (traj, stability(traj, top, max_bond, settings.steps // settings.stride))
    primary = models[0]
    traj, stable = runs[primary]
    with atomic_write(out_trajectory) as handle:
        np.savez_compressed(handle, positions=traj.positions.astype(np.float32),
                            time_ps=traj.time_ps, numbers=numbers)

    floor = reference_floor(reference, top, settings)
    divergences: dict[str, dict[str, float | None]] = {}
    panels: list[tuple[str, np.ndarray]] = []
    edges = None
    for mode, (run, _) in runs.items():
        divergences[mode] = dict.fromkeys(("bond", "angle", "dihedral", "fes"))
        simulated = finite_frames(run)
        if not len(simulated):
            continue
        hists = coordinate_histograms(reference, simulated, top, settings.bins)
        fes = fes_histograms(reference, simulated, top, settings.fes, settings.bins,
                             settings.variables)
        divergences[mode].update({n: h.divergence for n, h in hists.items()},
                                 fes=fes.divergence)
        if edges is None:
            edges = fes.edges
            panels.append((f"reference (halves: JS {floor['fes']:.3g})",
                           free_energy(fes.reference, kt) / kt))
        panels.append((f"{mode}: JS {fes.divergence:.3g}", free_energy(fes.simulated, kt) / kt))
        if mode == primary:
            plot_distributions(out_distributions, hists)
    if divergences[primary]["bond"] is None:
        plot_placeholder(out_distributions, "the simulation produced no finite frames")
    if edges is None:
        plot_placeholder(out_fes, "the simulations produced no finite frames")
    else:
        plot_fes(out_fes, edges, settings.fes, panels)
    for mode, values in divergences.items():
        print(f"{mode}: stable {runs[mode][1]['stable']}, JS divergences: "
              + ", ".join(f"{k} {v:.4g}" for k, v in values.items() if v is not None))

    full_fes = divergences.get("full", {}).get("fes")
    prior_fes = divergences.get("prior-only", {}).get("fes")
    beside = "prior-only" in runs and primary != "prior-only"
    summary = {
        "model": primary, "temperature": temperature, "n_replicas": len(starts),
        "n_recorded_frames": len(finite_frames(traj)), "fes_variables": list(settings.fes),
        "js_divergence": divergences[primary], "js_reference_halves": floor, "js_base": 2,
        "stability": stable,
        "prior_only": {"js_divergence": divergences["prior-only"],
                       "stability": runs["prior-only"][1]} if beside else None,
        "fes_js_ratio_full_vs_prior": full_fes / prior_fes
        if full_fes is not None and prior_fes else None,
        "settings": settings.as_dict(),
        "device": describe_jax_device(),
    }
    write_json(out_summary, summary)
    with atomic_path(out_table) as tmp:
        pd.DataFrame([{"mode": mode,
                       **{f"js_{k}": v for k, v in divergences[mode].items()},
                       **{f"js_{k}_reference_halves": v for k, v in floor.items()},
                       **runs[mode][1]} for mode in runs]).to_csv(tmp, index=False)
    return summary
