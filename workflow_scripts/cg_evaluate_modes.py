"""Metrics of the CG model on the test split in three modes: full, prior-only, ml-only."""

from pathlib import Path

import pandas as pd

from distillery.cg.delta import mode_metrics, mode_predictions
from distillery.cg.plots import plot_mode_parity
from distillery.cg.record import cg_metrics
from distillery.cg.serialise import load_priors
from distillery.data.frames import read_frames
from distillery.data.splits import read_splits
from distillery.io import atomic_path
from distillery.metrics.record import write_metrics
from distillery.models.model import count_parameters, load_model
from distillery.sweeps import split_variant
from distillery.train.device import describe_jax_device, enable_compilation_cache
from distillery.workflow import run_script


def main(snakemake) -> None:
    inp, out = snakemake.input, snakemake.output
    enable_compilation_cache(snakemake.params.cache_dir)
    frames = read_frames(inp.frames)
    test = frames.subset(read_splits(inp.splits)["test"])
    model, params = load_model(Path(inp.model).parent)
    predictions = mode_predictions(load_priors(inp.priors), model, params, test)
    metrics = mode_metrics(predictions, test)
    for mode in ("full", "ml-only"):
        metrics[mode]["n_parameters"] = count_parameters(params["net"])
    for mode, row in metrics.items():
        print(f"{mode:>10}: force RMSE {row['force_rmse']:.4g} eV/Å, "
              f"MAE {row['force_mae']:.4g} eV/Å, R² {row['force_r2']:.4f}")
    dataset, variant = split_variant(snakemake.wildcards.dataset)
    write_metrics(out.metrics, cg_metrics(dataset, metrics, describe_jax_device(),
                                          n_frames=len(test), variant=variant))
    with atomic_path(out.table) as tmp:
        pd.DataFrame([{"mode": m, **row} for m, row in metrics.items()]).to_csv(tmp, index=False)
    plot_mode_parity(out.parity, {m: f for m, (_, f) in predictions.items()},
                     test.stacked_forces())


run_script(main, snakemake, tracked=True)
