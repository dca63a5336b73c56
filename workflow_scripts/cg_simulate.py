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
    print(f"simulating {len(starts)} replicas for {settings.steps} steps of "
          f"{settings.timestep} ps at {temperature} K")
    traj = langevin(combined_energy(priors, model, model_params, numbers), starts, numbers,
                    float(temperature), settings, settings.seed)
    max_bond = settings.bond_factor * float(geometry.bond_lengths(
        reference, priors.topology.bonds).max())
    stable = stability(traj, priors.topology, max_bond, settings.steps // settings.stride)
    with atomic_write(out.trajectory) as handle:
        np.savez_compressed(handle, positions=traj.positions.astype(np.float32),
                            time_ps=traj.time_ps, numbers=numbers)

    simulated = traj.positions.reshape(-1, *traj.positions.shape[2:])
    simulated = simulated[np.isfinite(simulated).all(axis=(1, 2))]
    divergences: dict[str, float | None] = {"bond": None, "angle": None, "dihedral": None,
                                            "fes": None}
    # the same divergences between two halves of the reference: the sampling-noise floor
    floor = {name: h.divergence for name, h in coordinate_histograms(
        reference[::2], reference[1::2], priors.topology, settings.bins).items()}
    floor["fes"] = fes_histograms(reference[::2], reference[1::2], priors.topology,
                                  settings.fes, settings.bins).divergence
    if len(simulated):
        hists = coordinate_histograms(reference, simulated, priors.topology, settings.bins)
        fes = fes_histograms(reference, simulated, priors.topology, settings.fes, settings.bins)
        divergences.update({name: h.divergence for name, h in hists.items()},
                           fes=fes.divergence)
        kt = units.kB * float(temperature)
        plot_distributions(out.distributions, hists)
        plot_fes(out.fes, fes, settings.fes,
                 (free_energy(fes.reference, kt) / kt, free_energy(fes.simulated, kt) / kt))
    else:
        plot_placeholder(out.distributions, "the simulation produced no finite frames")
        plot_placeholder(out.fes, "the simulation produced no finite frames")
    print(f"stable: {stable['stable']}, JS divergences: "
          + ", ".join(f"{k} {v:.4g}" for k, v in divergences.items() if v is not None))
    write_json(out.summary, {
        "temperature": float(temperature), "n_replicas": len(starts),
        "n_recorded_frames": len(simulated), "fes_variables": list(settings.fes),
        "js_divergence": divergences, "js_reference_halves": floor, "js_base": 2,
        "stability": stable,
        "settings": settings.as_dict(),
        "device": describe_jax_device(),
    })
    with atomic_path(out.table) as tmp:
        pd.DataFrame([{**{f"js_{k}": v for k, v in divergences.items()},
                       **{f"js_{k}_reference_halves": v for k, v in floor.items()},
                       **{k: v for k, v in stable.items()}}]).to_csv(tmp, index=False)


run_script(main, snakemake)
