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
from distillery.cg.compare import (
    basin_membership,
    basin_populations,
    coordinate_histograms,
    fes_histograms,
    free_energy,
    integrated_time,
)
from distillery.cg.delta import combined_energy, load_models
from distillery.cg.langevin import Trajectory, langevin, stability
from distillery.cg.plots import plot_distributions, plot_fes, plot_placeholder
from distillery.cg.settings import CGModel, SimulationSettings
from distillery.cg.topology import Topology
from distillery.data.frames import FrameSet, read_frames
from distillery.data.splits import read_splits
from distillery.io import atomic_path, atomic_write, write_json
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


def halves_divergences(series: np.ndarray, topology: Topology,
                       settings: SimulationSettings) -> dict[str, float]:
    """The divergences between the first and the second half in time of `series` (n_frames,
    ..., n_beads, 3; replicas pooled within each half, non-finite frames left out): how far
    a run's own sampling is from converged. Of the reference, the noise floor; consecutive
    frames are correlated, so halves in time (not alternate frames) show it."""
    half = len(series) // 2
    first, second = (np.asarray(h).reshape(-1, *series.shape[-2:])
                     for h in (series[:half], series[half:]))
    first, second = (h[np.isfinite(h).all(axis=(1, 2))] for h in (first, second))
    out = {name: h.divergence for name, h in
           coordinate_histograms(first, second, topology, settings.bins).items()}
    out["fes"] = fes_histograms(first, second, topology, settings.fes, settings.bins,
                                settings.variables).divergence
    return out


def sampling(series: np.ndarray, topology: Topology, settings: SimulationSettings,
             ) -> dict[str, dict[str, float | None]]:
    """Per basin of `settings.basins`, the integrated autocorrelation time of being in it (in
    recorded frames), the effective number of independent frames of `series` (n_frames, ...,
    n_beads, 3: replicas along the middle axes) and the number of entries into it. A basin
    entered a few times is sampled no better than its entries, whatever its tau."""
    out: dict[str, dict[str, float | None]] = {}
    member = basin_membership(series, topology, settings.basins, settings.variables)
    for basin, inside in member.items():
        inside = inside.reshape(len(inside), -1)
        tau = integrated_time(inside.astype(np.float64))
        out[basin] = {"decorrelation_frames": tau,
                      "effective_samples": None if tau is None else inside.size / tau,
                      "entries": int((inside[1:] & ~inside[:-1]).sum())}
    return out


def cg_simulate(frames: PathLike, splits: PathLike, priors: PathLike,
                settings: SimulationSettings, models: Sequence[CGModel], *,
                out_summary: PathLike, out_table: PathLike, out_trajectory: PathLike,
                out_distributions: PathLike, out_fes: PathLike,
                delta: PathLike | None = None, full_priors: PathLike | None = None,
                checkpoint: str | None = None, checkpoints: PathLike | None = None
                ) -> dict[str, Any]:
    """Simulate `models` (`CGSettings.simulated`: `full` and/or `prior-only`, the first the
    one reported, its trajectory kept) at the resolved `settings.temperature`; `delta`, the
    delta model's file, serves `full` with `full_priors` (the priors it was trained with,
    refined with `cg.priors.train`), or the training checkpoint `checkpoint` of `checkpoints`
    (`cg.evaluate.checkpoint`); `prior-only` is the fitted prior. Returns the summary written
    to `out_summary`."""
    unknown = [m for m in models if m not in SIMULATED or (m == "full" and delta is None)]
    if unknown or not models:
        raise ValueError(f"coarse-grained simulation of {list(models)}: expected full (with "
                         "a delta model) and/or prior-only")
    every = read_frames(frames)
    test = every.subset(read_splits(splits)["test"])
    reference, starts = every.stacked_positions(), start_frames(test, settings.starts)
    numbers = test.numbers[0]
    prior, net, net_params, full_prior = load_models(priors, delta, full_priors, checkpoint,
                                                     checkpoints)
    top, temperature = prior.topology, float(settings.temperature)
    kt = units.kB * temperature
    max_bond = settings.bond_factor * float(geometry.bond_lengths(reference, top.bonds).max())
    runs = {}
    for mode in models:
        print(f"{mode}: simulating {len(starts)} replicas for {settings.steps} steps of "
              f"{settings.timestep} ps at {temperature} K")
        energy = (combined_energy(full_prior, net, net_params, numbers) if mode == "full"
                  else combined_energy(prior, None, None, numbers))
        traj = langevin(energy, starts, numbers, temperature, settings, settings.seed)
        runs[mode] = (traj, stability(traj, top, max_bond, settings.steps // settings.stride))
    primary = models[0]
    traj, stable = runs[primary]
    with atomic_write(out_trajectory) as handle:
        np.savez_compressed(handle, positions=traj.positions.astype(np.float32),
                            time_ps=traj.time_ps, numbers=numbers)

    floor = halves_divergences(reference, top, settings)
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

    halves = {mode: halves_divergences(run.positions, top, settings)
              for mode, (run, _) in runs.items()}
    populations = {"reference": basin_populations(reference, top, settings.basins,
                                                  settings.variables),
                   **{mode: basin_populations(finite_frames(run), top, settings.basins,
                                              settings.variables)
                      for mode, (run, _) in runs.items()}}
    frame_ps = settings.timestep * settings.stride
    sampled = {"reference": sampling(reference, top, settings),
               **{mode: sampling(run.positions, top, settings) for mode, (run, _) in runs.items()}}
    for mode in runs:
        print(f"{mode}: free-energy JS between the run's halves {halves[mode]['fes']:.4g} "
              f"(reference halves {floor['fes']:.4g})")
    for name, pops in populations.items():
        print(f"basins of {name}: " + ", ".join(f"{b} {p:.1%}" for b, p in pops.items()))

    full_fes = divergences.get("full", {}).get("fes")
    prior_fes = divergences.get("prior-only", {}).get("fes")
    beside = "prior-only" in runs and primary != "prior-only"

    def figures(mode: CGModel) -> dict[str, Any]:
        return {"js_divergence": divergences[mode], "js_halves": halves[mode],
                "stability": runs[mode][1], "basin_populations": populations[mode],
                "sampling": sampled[mode]}

    summary = {
        "model": primary, "delta_checkpoint": (checkpoint or "final") if net else None,
        "temperature": temperature, "n_replicas": len(starts),
        "n_recorded_frames": len(finite_frames(traj)), "frame_ps": frame_ps,
        "simulated_ps_total": len(starts) * stable["simulated_ps"],
        "fes_variables": list(settings.fes), "js_base": 2,
        **figures(primary),
        "js_reference_halves": floor,
        "reference": {"n_frames": len(reference),
                      "basin_populations": populations["reference"],
                      "sampling": sampled["reference"]},
        "basins": settings.basins,
        "prior_only": figures("prior-only") if beside else None,
        "fes_js_ratio_full_vs_prior": full_fes / prior_fes
        if full_fes is not None and prior_fes else None,
        "settings": settings.as_dict(),
        "device": describe_jax_device(),
    }
    write_json(out_summary, summary)
    with atomic_path(out_table) as tmp:
        pd.DataFrame([{"mode": mode,
                       **{f"js_{k}": v for k, v in divergences[mode].items()},
                       **{f"js_{k}_halves": v for k, v in halves[mode].items()},
                       **{f"js_{k}_reference_halves": v for k, v in floor.items()},
                       **{f"basin_{b}": p for b, p in populations[mode].items()},
                       **{f"basin_{b}_reference": p
                          for b, p in populations["reference"].items()},
                       **runs[mode][1]} for mode in runs]).to_csv(tmp, index=False)
    return summary
