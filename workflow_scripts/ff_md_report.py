"""Figures and one table of the MD stability runs; g(r) against the test-split reference."""

import numpy as np
import pandas as pd

from distillery.data.frames import read_frames
from distillery.data.splits import read_splits
from distillery.forcefield.md_plots import langevin_temperature_plot, nve_energy_plot, rdf_plot
from distillery.forcefield.md_stability import load_trajectories
from distillery.forcefield.rdf import radial_distribution, rdf_distance
from distillery.io import atomic_path, read_json, write_json
from distillery.workflow import run_script


def main(snakemake) -> None:
    params, out = snakemake.params, snakemake.output
    models = list(params.md.models)
    runs = {m: load_trajectories(p) for m, p in zip(models, snakemake.input.trajectories,
                                                    strict=True)}
    summaries = {m: read_json(p) for m, p in zip(models, snakemake.input.summaries,
                                                 strict=True)}
    frames = read_frames(snakemake.input.frames)
    test = frames.subset(read_splits(snakemake.input.splits)["test"])
    # a molecule (no cell): intramolecular pair-distance density in place of g(r)
    cell = None if test.cell is None else test.cell[0]
    pbc = None if test.pbc is None else test.pbc[0]
    r_max, bins = params.md.rdf.r_max, params.md.rdf.bins
    r, g_ref = radial_distribution(test.positions, cell, pbc, r_max, bins)
    curves, rows = {}, []
    for model in models:
        # the second half of each Langevin run: the first half equilibrates to the thermostat
        samples = [frame for t in runs[model] if t.ensemble == "langevin"
                   for frame in t.positions[len(t.positions) // 2:]]
        # a run unstable from its first step has no samples: its g(r) is undefined
        curves[model] = (radial_distribution(samples, cell, pbc, r_max, bins)[1] if samples
                         else np.full_like(g_ref, np.nan))
        distance = rdf_distance(curves[model], g_ref, r)
        for run in summaries[model]["runs"]:
            rows.append({"model": model, **run, "rdf_l1_vs_reference_A": distance})
        print(f"{model}: ∫|g - g_ref| dr = {distance:.3f} Å", flush=True)
    nve_energy_plot(out.nve, runs)
    langevin_temperature_plot(out.langevin, runs, params.md.temperature)
    rdf_plot(out.rdf, r, g_ref, curves)
    table = pd.DataFrame(rows)
    with atomic_path(out.table) as tmp:
        table.to_csv(tmp, index=False)
    write_json(out.summary, {
        "dataset": snakemake.wildcards.dataset,
        "rdf": {"r": r, "reference": g_ref, **curves},
        "models": {m: {"runs": summaries[m]["runs"],
                       "rdf_l1_vs_reference_A": rdf_distance(curves[m], g_ref, r),
                       "all_stable": all(run["stable"] for run in summaries[m]["runs"]),
                       "max_abs_nve_drift_eV_per_atom_per_ps": float(np.nanmax(
                           [abs(run.get("energy_drift_eV_per_atom_per_ps", np.nan))
                            for run in summaries[m]["runs"]]))}
                   for m in models},
        "settings": summaries[models[0]]["settings"],
    })


run_script(main, snakemake)
