"""Langevin simulation of the CG model (prior + ML) from test frames; distributions against
the reference (Jensen–Shannon divergences, 2-D free-energy surface) and stability."""

from pathlib import Path

import numpy as np
import pandas as pd
from ase import units

from distillery.cg import geometry
from distillery.cg.compare import coordinate_histograms, fes_histograms, free_energy
from distillery.cg.delta import combined_energy
from distillery.cg.langevin import langevin, stability
from distillery.cg.plots import plot_distributions, plot_fes, plot_placeholder
from distillery.cg.serialise import load_priors
from distillery.data.frames import read_frames
from distillery.data.splits import read_splits
from distillery.errors import InputError
from distillery.io import atomic_path, atomic_write, write_json
from distillery.models.model import load_model
from distillery.train.device import describe_jax_device, enable_compilation_cache
from distillery.workflow import run_script


def _finite_frames(traj) -> np.ndarray:
    simulated = traj.positions.reshape(-1, *traj.positions.shape[2:])
    return simulated[np.isfinite(simulated).all(axis=(1, 2))]


def main(snakemake) -> None:
    inp, out, params = snakemake.input, snakemake.output, snakemake.params
    enable_compilation_cache(params.cache_dir)
    settings = params.simulate
    temperature = settings.temperature
    if temperature is None:
        raise InputError("config", "cg.simulate.temperature", "nothing",
                         "a temperature in K (or the dataset's temperature)")
    frames = read_frames(inp.frames)
    test = frames.subset(read_splits(inp.splits)["test"])
    reference = frames.stacked_positions()
    picks = np.unique(np.linspace(0, len(test) - 1, min(settings.starts, len(test))).round())
    starts = test.stacked_positions()[picks.astype(int)]
    priors = load_priors(inp.priors)
    model, model_params = load_model(Path(inp.model).parent)
    numbers = test.numbers[0]
    top, names, variables = priors.topology, settings.fes, settings.variables
    max_bond = settings.bond_factor * float(geometry.bond_lengths(reference, top.bonds).max())
    kt = units.kB * float(temperature)
    models = {"full": (model, model_params)}
    if settings.prior_only:
        models["prior-only"] = (None, None)
    runs = {}
    for mode, (net, net_params) in models.items():
        print(f"{mode}: simulating {len(starts)} replicas for {settings.steps} steps of "
              f"{settings.timestep} ps at {temperature} K")
        traj = langevin(combined_energy(priors, net, net_params, numbers), starts, numbers,
                        float(temperature), settings, settings.seed)
        runs[mode] = (traj, stability(traj, top, max_bond, settings.steps // settings.stride))
    traj, stable = runs["full"]
    with atomic_write(out.trajectory) as handle:
        np.savez_compressed(handle, positions=traj.positions.astype(np.float32),
                            time_ps=traj.time_ps, numbers=numbers)

    # the same divergences between two halves of the reference: the sampling-noise floor
    floor = {name: h.divergence for name, h in coordinate_histograms(
        reference[::2], reference[1::2], top, settings.bins).items()}
    floor["fes"] = fes_histograms(reference[::2], reference[1::2], top, names,
                                  settings.bins, variables).divergence
    divergences: dict[str, dict[str, float | None]] = {}
    panels, edges = [], None
    for mode, (run, _) in runs.items():
        divergences[mode] = {"bond": None, "angle": None, "dihedral": None, "fes": None}
        simulated = _finite_frames(run)
        if not len(simulated):
            continue
        hists = coordinate_histograms(reference, simulated, top, settings.bins)
        fes = fes_histograms(reference, simulated, top, names, settings.bins, variables)
        divergences[mode].update({n: h.divergence for n, h in hists.items()},
                                 fes=fes.divergence)
        if edges is None:
            edges = fes.edges
            panels.append((f"reference (halves: JS {floor['fes']:.3g})",
                           free_energy(fes.reference, kt) / kt))
        panels.append((f"{mode}: JS {fes.divergence:.3g}", free_energy(fes.simulated, kt) / kt))
        if mode == "full":
            plot_distributions(out.distributions, hists)
    if "bond" not in {n for d in divergences.values() for n, v in d.items() if v is not None}:
        plot_placeholder(out.distributions, "the simulation produced no finite frames")
    if edges is None:
        plot_placeholder(out.fes, "the simulations produced no finite frames")
    else:
        plot_fes(out.fes, edges, names, panels)
    for mode, values in divergences.items():
        print(f"{mode}: stable {runs[mode][1]['stable']}, JS divergences: "
              + ", ".join(f"{k} {v:.4g}" for k, v in values.items() if v is not None))
    full_fes, prior_fes = divergences["full"]["fes"], divergences.get("prior-only", {}).get("fes")
    write_json(out.summary, {
        "temperature": float(temperature), "n_replicas": len(starts),
        "n_recorded_frames": len(_finite_frames(traj)), "fes_variables": list(names),
        "js_divergence": divergences["full"], "js_reference_halves": floor, "js_base": 2,
        "stability": stable,
        "prior_only": None if "prior-only" not in runs else {
            "js_divergence": divergences["prior-only"], "stability": runs["prior-only"][1]},
        "fes_js_ratio_full_vs_prior": None if full_fes is None or not prior_fes
        else full_fes / prior_fes,
        "settings": settings.as_dict(),
        "device": describe_jax_device(),
    })
    with atomic_path(out.table) as tmp:
        pd.DataFrame([{"mode": mode,
                       **{f"js_{k}": v for k, v in divergences[mode].items()},
                       **{f"js_{k}_reference_halves": v for k, v in floor.items()},
                       **runs[mode][1]} for mode in runs]).to_csv(tmp, index=False)


run_script(main, snakemake, tracked=True)
