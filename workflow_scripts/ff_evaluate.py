"""Test-split metrics, parity plots, error histograms and speed of teacher and students."""

from pathlib import Path

import numpy as np

from distillery.data.frames import read_frames
from distillery.data.splits import read_splits
from distillery.forcefield.plots import error_histogram, parity_plot
from distillery.forcefield.record import forcefield_metrics
from distillery.metrics.build import goal_lines
from distillery.metrics.record import write_metrics
from distillery.models.inference import evaluate, throughput
from distillery.models.model import load_model
from distillery.train.device import describe_jax_device, enable_compilation_cache
from distillery.workflow import run_script

MODELS = ("teacher", "student", "baseline")


def main(snakemake) -> None:
    params, out = snakemake.params, snakemake.output
    enable_compilation_cache(params.cache_dir)
    frames = read_frames(snakemake.input.frames)
    test = frames.subset(read_splits(snakemake.input.splits)["test"])
    cfg = params.evaluate
    device = describe_jax_device()
    models = {}
    for name in MODELS:
        path = Path(getattr(snakemake.input, name))
        model, model_params = load_model(path.parent)
        metrics, energy, forces = evaluate(model, model_params, test, cfg.batch_size)
        speed = throughput(model, model_params, test.subset(range(min(cfg.speed_frames,
                                                                      len(test)))),
                           cfg.batch_size, cfg.speed_seconds)
        models[name] = {"role": name, **metrics,
                        "n_params": speed.pop("n_parameters"),
                        "size_bytes": path.stat().st_size, "device": device["platform"],
                        **speed, "config": model.config}
        e_ref, e_pred = test.energy / test.n_atoms, energy / test.n_atoms
        f_ref, f_pred = np.concatenate(test.forces), np.concatenate(forces)
        parity_plot(getattr(out, f"parity_{name}"), f"{name}: test split", e_ref, e_pred,
                    f_ref, f_pred)
        error_histogram(getattr(out, f"errors_{name}"), f"{name}: force errors", f_ref, f_pred)
        print(f"{name}: force MAE {metrics['force_mae']:.4f} eV/Å, energy MAE "
              f"{metrics['energy_mae_per_atom'] * 1000:.2f} meV/atom, "
              f"{speed['frames_per_s']:.1f} frames/s")
    record = forcefield_metrics(snakemake.wildcards.dataset, models, params.goals, device,
                                n_frames=len(test))
    write_metrics(out.metrics, record)
    for line in goal_lines(record):
        print(f"goal {line}")


run_script(main, snakemake)
