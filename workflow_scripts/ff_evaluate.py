"""Test-split metrics, parity plots, error histograms, speed and the Pareto figure of the
teacher, every student and every baseline."""

from pathlib import Path

import numpy as np

from distillery.data.frames import read_frames
from distillery.data.splits import read_splits
from distillery.forcefield.evaluation import agreement, calculator_speed, label_metrics
from distillery.forcefield.plots import error_histogram, pareto_plot, parity_plot
from distillery.forcefield.record import forcefield_metrics
from distillery.forcefield.teachers import JaxTeacher, load_teacher
from distillery.metrics.build import goal_lines
from distillery.metrics.record import write_metrics
from distillery.models.inference import latency_by_batch, predict, throughput
from distillery.models.model import load_model
from distillery.sweeps import split_variant
from distillery.train.device import describe_jax_device, enable_compilation_cache
from distillery.workflow import run_script


def main(snakemake) -> None:
    params, out = snakemake.params, snakemake.output
    enable_compilation_cache(params.cache_dir)
    frames = read_frames(snakemake.input.frames)
    test = frames.subset(read_splits(snakemake.input.splits)["test"])
    cfg = params.evaluate
    device = describe_jax_device()
    speed_frames = test.subset(range(min(cfg.speed_frames, len(test))))
    teacher = load_teacher(params.teacher, snakemake.input.get("teacher"))
    # speed-ups compare equal batch sizes: calculator teachers take one structure per call
    batch_size = cfg.batch_size if teacher.batched else 1
    t_energy, t_forces = teacher.label(test)
    e_ref, f_ref = test.energy / test.n_atoms, np.concatenate(test.forces)
    models, predictions = {}, {}
    for name in params.models:
        if name == "teacher" and not isinstance(teacher, JaxTeacher):
            energy, forces = t_energy, t_forces
            figures = {"kind": teacher.name, "source": params.teacher.source,
                       **calculator_speed(teacher, speed_frames, cfg.speed_seconds)}
        else:
            path = Path(snakemake.input[name])
            model, model_params = load_model(path.parent)
            energy, forces = predict(model, model_params, test, cfg.batch_size)
            speed = throughput(model, model_params, speed_frames, batch_size, cfg.speed_seconds)
            figures = {"n_params": speed.pop("n_parameters"), "size_bytes": path.stat().st_size,
                       **speed, "config": model.config,
                       **latency_by_batch(model, model_params, speed_frames,
                                          cfg.latency_batch_sizes, cfg.latency_seconds)}
            if name != "teacher":
                figures |= agreement(energy, forces, t_energy, t_forces, test.n_atoms)
        metrics = label_metrics(energy, forces, test.energy, test.forces, test.numbers)
        models[name] = {**metrics, "device": device["platform"], **figures}
        predictions[name] = (energy / test.n_atoms, np.concatenate(forces))
        print(f"{name}: force MAE {metrics['force_mae']:.4f} eV/Å, energy MAE "
              f"{metrics['energy_mae_per_atom'] * 1000:.2f} meV/atom, "
              f"{models[name]['frames_per_s']:.1f} frames/s at batch {batch_size}")
    parity_plot(out.parity, e_ref, f_ref, predictions)
    error_histogram(out.errors, f_ref, {name: f for name, (_, f) in predictions.items()})
    dataset, variant = split_variant(snakemake.wildcards.dataset)
    pareto_plot(out.pareto, {name: (m["frames_per_s"], m["force_mae"])
                             for name, m in models.items()}, batch_size)
    record = forcefield_metrics(dataset, models, params.goals, device, n_frames=len(test),
                                variant=variant)
    write_metrics(out.metrics, record)
    for line in goal_lines(record):
        print(f"goal {line}")


run_script(main, snakemake, tracked=True)
