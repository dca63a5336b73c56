"""The force-field track's steps, one function per rule of `rules/forcefield.smk`.

Each takes typed settings and paths and can be called without Snakemake; the rule's script
only passes its inputs, outputs and params on.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from ase import Atoms

from distillery.data.frames import FrameSet, read_frames, write_frames
from distillery.data.splits import read_splits
from distillery.errors import DistilleryError
from distillery.forcefield.cards import model_card
from distillery.forcefield.evaluation import agreement, calculator_speed, label_metrics
from distillery.forcefield.export.forcefield import compare_exported, export_trained
from distillery.forcefield.export.jax_loader import ExportedForceField
from distillery.forcefield.labelling import (
    composition,
    gather_chunks,
    label_chunk,
    mixed_labels,
    sample_distill_frames,
)
from distillery.forcefield.md import exported_potential
from distillery.forcefield.md_plots import langevin_temperature_plot, nve_energy_plot, rdf_plot
from distillery.forcefield.md_stability import (
    ENSEMBLES,
    load_trajectories,
    run_md,
    run_native,
    save_trajectories,
    summarise,
)
from distillery.forcefield.plots import error_histogram, pareto_plot, parity_plot
from distillery.forcefield.rdf import radial_distribution, rdf_distance
from distillery.forcefield.record import forcefield_metrics, training_figures
from distillery.forcefield.settings import (
    DistillSettings,
    EvaluateSettings,
    ExportSettings,
    FFGoalSettings,
    MDStabilitySettings,
    RoleSettings,
    TeacherSettings,
    baseline_of,
)
from distillery.forcefield.teachers import JaxTeacher, load_teacher
from distillery.io import atomic_path, atomic_write, read_json, write_json
from distillery.metrics.build import goal_lines
from distillery.metrics.record import read_metrics, write_metrics
from distillery.potentials.calculator import ModelCalculator
from distillery.potentials.inference import latency_by_batch, predict, throughput
from distillery.potentials.model import ForceField, count_parameters, load_model, save_model
from distillery.sweeps import split_variant
from distillery.train.history import MetricsHistory
from distillery.train.jax_device import describe_jax_device
from distillery.train.potential_loop import fit


def _split(frames_path: str, splits_path: str, name: str) -> FrameSet:
    frames = read_frames(frames_path)
    return frames.subset(read_splits(splits_path)[name])


def train(model_name: str, role: RoleSettings, frames: str, splits: str,
          outputs: Mapping[str, str], checkpoints: str, distill: str | None = None,
          hvp: str | None = None, teacher_weight: float | None = None,
          student_info: str | None = None) -> None:
    """`ff_train`: a teacher or baseline on the reference labels, or a student on the teacher's
    labels of the distillation set (`distill`, with HVP targets from `hvp`). A baseline with
    its student's `student_info` (train_info.json) gets at least the student's optimizer
    steps: as many epochs as reach them."""
    all_frames, split = read_frames(frames), read_splits(splits)
    train_set, val = all_frames.subset(split["train"]), all_frames.subset(split["val"])
    labels, trained_on, min_steps = None, {}, None
    if student_info is not None:
        min_steps = int(read_json(student_info)["final_step"])
        trained_on = {"student_steps": min_steps}
    if distill is not None:
        distilled = read_frames(distill)
        labels = mixed_labels(distilled, train_set, teacher_weight)
        if hvp is not None:
            arrays = np.load(hvp)
            cuts = np.cumsum(distilled.n_atoms)[:-1]
            labels.extras = {"hvp_dir": np.split(arrays["directions"], cuts),
                             "hvp_target": np.split(arrays["targets"], cuts)}
        train_set = distilled
        trained_on = {"distill": {**composition(distilled), "teacher_weight": teacher_weight,
                                  "hvp": hvp is not None}}
    model = ForceField(role.model)
    history = MetricsHistory(outputs["history_csv"], outputs["history_parquet"])
    result = fit(model, train_set, val, role.train, checkpoints, history, train_labels=labels,
                 min_steps=min_steps)
    if not result.is_main:
        return  # the other ranks of a multi-process run: rank 0 writes the outputs
    info = {"role": model_name, **result.info, **trained_on}
    save_model(Path(outputs["model"]).parent, model, result.params, meta={"training": info})
    write_json(outputs["info"], info)


def sample_distill(teacher: TeacherSettings, teacher_file: str | None, distill: DistillSettings,
                   frames: str, splits: str, seed: int, output: str) -> None:
    """`ff_distill_sample`: training frames, displaced copies and teacher-MD frames."""
    train_set = _split(frames, splits, "train")
    # the teacher only drives MD here; loading a foundation model costs seconds
    model = load_teacher(teacher, teacher_file) if distill.md.starts > 0 else None
    write_frames(output, sample_distill_frames(train_set, model, distill, seed))


def label_distill(teacher: TeacherSettings, teacher_file: str | None, distill: DistillSettings,
                  frames: str, chunk: int, seed: int, output: str) -> None:
    """`ff_distill_label`: one chunk of the distillation frames labelled by the teacher."""
    model = load_teacher(teacher, teacher_file)
    arrays = label_chunk(read_frames(frames), model, chunk, distill.chunks, distill.hvp,
                         seed + 1)
    with atomic_write(output) as handle:
        np.savez(handle, **arrays)
    print(f"chunk {chunk}/{distill.chunks}: {len(arrays['rows'])} frames labelled by "
          f"{model.name}")


def gather_distill(frames: str, labels: Sequence[str], output: str, hvp_output: str) -> None:
    """`ff_distill_set`: the labelled chunks gathered into the distillation set."""
    chunks = []
    for path in labels:
        with np.load(path) as stored:
            chunks.append({k: stored[k] for k in stored.files})
    distilled, directions, targets = gather_chunks(read_frames(frames), chunks)
    write_frames(output, distilled)
    # an empty archive when HVP targets are off
    with atomic_write(hvp_output) as handle:
        np.savez(handle, directions=directions, targets=targets)
    kinds = composition(distilled)
    print(f"distillation set: {kinds['frames']} frames (original {kinds['original']}, "
          f"displaced {kinds['displaced']}, teacher MD {kinds['teacher_md']})")


def evaluate(dataset: str, models: Sequence[str], model_files: Mapping[str, str],
             infos: Mapping[str, str], teacher: TeacherSettings, teacher_file: str | None,
             evaluate: EvaluateSettings, goals: FFGoalSettings, frames: str, splits: str,
             outputs: Mapping[str, str],
             seed_groups: Mapping[str, Sequence[str]] | None = None) -> None:
    """`ff_evaluate`: test-split metrics, agreement with the teacher, speed, figures and the
    metrics record of every model of a dataset; `infos`: the train_info.json of every model
    trained here, whose optimizer steps and early stopping the record states; `seed_groups`:
    {student: its models under every seed} (`ForcefieldSettings.seed_groups`)."""
    test = _split(frames, splits, "test")
    device = describe_jax_device()
    speed_frames = test.subset(range(min(evaluate.speed_frames, len(test))))
    labeller = load_teacher(teacher, teacher_file)
    # the model-only speeds compare equal batch sizes: a calculator teacher takes one structure
    # per call (the headline speeds are all one structure per call, through ASE calculators)
    batch_size = evaluate.batch_size if labeller.batched else 1
    kind = teacher.teacher_type()
    # the reference method labels the test frames as it labelled them before: its labels are
    # the reference (relabelling 800 GFN2-xTB frames cost minutes); its speed is still timed
    t_energy, t_forces = ((test.energy, test.forces) if kind == "reference"
                          else labeller.label(test))
    # a foundation teacher's labels are the reference its students are scored against
    ref_energy, ref_forces = ((t_energy, t_forces) if kind == "foundation"
                              else (test.energy, test.forces))
    e_ref, f_ref = ref_energy / test.n_atoms, np.concatenate(ref_forces)
    # the further seeds of a student are scored for its mean error, not timed: their speed is
    # their first seed's
    replicas = {m for group in (seed_groups or {}).values() for m in group[1:]}
    replicas |= {baseline_of(m) for m in replicas}
    records, predictions = {}, {}
    for name in models:
        if name == "teacher" and not isinstance(labeller, JaxTeacher):
            energy, forces = t_energy, t_forces
            figures = {"kind": labeller.name, "source": teacher.source,
                       **calculator_speed(labeller.calculator(), speed_frames,
                                          evaluate.speed_seconds)}
        else:
            path = Path(model_files[name])
            model, params = load_model(path.parent)
            energy, forces = predict(model, params, test, evaluate.batch_size)
            figures = {"n_params": count_parameters(params["net"]),
                       "size_bytes": path.stat().st_size, "config": model.config}
            if name not in replicas:
                alone = throughput(model, params, speed_frames, batch_size,
                                   evaluate.latency_seconds)
                figures |= {**calculator_speed(ModelCalculator(model, params), speed_frames,
                                               evaluate.speed_seconds),
                            "frames_per_s_model_only": alone["frames_per_s"],
                            "atoms_per_s_model_only": alone["atoms_per_s"],
                            "batch_size_model_only": batch_size,
                            "compile_s": alone["compile_s"],
                            **latency_by_batch(model, params, speed_frames,
                                               evaluate.latency_batch_sizes,
                                               evaluate.latency_seconds)}
            if name != "teacher":
                figures |= agreement(energy, forces, t_energy, t_forces, test.n_atoms)
        metrics = label_metrics(energy, forces, ref_energy, ref_forces, test.numbers)
        records[name] = {**metrics, "device": device["platform"], **figures,
                         "training": training_figures(read_json(infos[name]) if name in infos
                                                      else None)}
        predictions[name] = (energy / test.n_atoms, np.concatenate(forces))
        alone_text = (f", model alone {figures['frames_per_s_model_only']:.1f} at batch "
                      f"{batch_size}" if "frames_per_s_model_only" in figures else "")
        speed_text = (f", {figures['frames_per_s']:.1f} frames/s end to end through "
                      f"{figures['calculator']}{alone_text}" if "frames_per_s" in figures
                      else " (a further seed: not timed)")
        print(f"{name}: force MAE {metrics['force_mae']:.4f} eV/Å, energy MAE "
              f"{metrics['energy_mae_per_atom'] * 1000:.2f} meV/atom{speed_text}")
    parity_plot(outputs["parity"], e_ref, f_ref, predictions)
    error_histogram(outputs["errors"], f_ref, {n: f for n, (_, f) in predictions.items()})
    pareto_plot(outputs["pareto"], {n: (m["frames_per_s"], m["force_mae"])
                                    for n, m in records.items() if n not in replicas},
                "frames/s end to end (ASE calculator, one structure per call)")
    name, variant = split_variant(dataset)
    record = forcefield_metrics(name, records, goals, device, n_frames=len(test),
                                variant=variant, teacher_type=kind, seed_groups=seed_groups)
    write_metrics(outputs["metrics"], record)
    for line in goal_lines(record):
        print(f"goal {line}")


def card(model_name: str, metrics: str, info: str, md: str | None, temperature: float | None,
         output: str) -> None:
    """`ff_card`: the model card of one student."""
    text = model_card(read_metrics(metrics), model_name, read_json(info),
                      read_json(md) if md else None, temperature)
    with atomic_write(output, "w") as handle:
        handle.write(text)
    print(text.splitlines()[-1])


def export(model_name: str, settings: ExportSettings, model: str, frames: str, splits: str,
           meta: str, check: str) -> None:
    """`ff_export`: the StableHLO program of a trained model, checked against the in-process
    model on test frames; a difference beyond the tolerance stops the job."""
    directory, trained = Path(meta).parent, Path(model).parent
    export_trained(trained, directory, settings.n_atoms, float64=settings.float64,
                   meta={"role": model_name})
    test = read_frames(frames).subset(read_splits(splits)["test"][:settings.check_frames])
    diffs = compare_exported(ExportedForceField(directory), trained, test)
    tolerance = settings.tolerance
    passed = (diffs["max_energy_diff_per_atom"] <= tolerance.energy_per_atom
              and diffs["max_force_diff"] <= tolerance.forces)
    write_json(check, {"model": model_name, **diffs, "tolerance": tolerance.as_dict(),
                       "passed": passed})
    print(f"{model_name}: exported vs in-process on {diffs['n_frames']} test frames: "
          f"energy {diffs['max_energy_diff_per_atom']:.2e} eV/atom, "
          f"forces {diffs['max_force_diff']:.2e} eV/Å")
    if not passed:
        raise DistilleryError(f"exported {model_name} differs from the in-process model beyond "
                              f"{tolerance.as_dict()}: {diffs}; see {check}")


def md_run(model_name: str, settings: MDStabilitySettings, teacher: TeacherSettings,
           program: str | None, teacher_file: str | None, frames: str, splits: str, seed: int,
           trajectories: str, summary: str) -> None:
    """`ff_md_run`: NVE and Langevin MD of one exported model (or of a teacher from elsewhere,
    as it is) from test-split structures. An export (every trained model, an `export` teacher)
    runs in the JAX engine, any other teacher (an ASE calculator) in ASE's integrators; the
    summary names the engine."""
    all_frames = read_frames(frames)
    starts = read_splits(splits)["test"][:settings.starts]
    export_dir = (Path(program).parent if program is not None
                  else Path(teacher_file).parent if teacher.source == "export" else None)
    engine = "ase" if export_dir is None else "jax"
    exported = None if export_dir is None else ExportedForceField(export_dir)
    calculator = load_teacher(teacher, teacher_file).calculator() if exported is None else None
    runs, summaries = [], []
    for i, k in enumerate(starts):
        atoms = Atoms(numbers=all_frames.numbers[k], positions=all_frames.positions[k],
                      cell=None if all_frames.cell is None else all_frames.cell[k],
                      pbc=False if all_frames.pbc is None else all_frames.pbc[k])
        potential = (None if exported is None else
                     exported_potential(exported, atoms.numbers, atoms.cell.array, atoms.pbc))
        for ensemble in ENSEMBLES:
            print(f"{model_name}: {ensemble} from test frame {k} ({engine} engine)", flush=True)
            if potential is None:
                run = run_md(atoms, calculator, ensemble, settings, seed=seed + i,
                             progress_every=max(settings.steps // 5, 1))
            else:
                native = run_native(atoms, potential, ensemble, settings, seed=seed + i)
                run = native.trajectory
                print(f"  {native.steps} steps, {native.steps_per_s:.0f} steps/s "
                      f"(compile {native.compile_seconds:.1f} s)", flush=True)
            runs.append(run)
            summaries.append({"start_frame": int(k), "engine": engine,
                              **summarise(run, settings)})
            print(f"  {summaries[-1]}", flush=True)
    save_trajectories(trajectories, runs)
    write_json(summary, {"model": model_name, "engine": engine,
                         "settings": settings.as_dict(), "runs": summaries})


def md_report(dataset: str, settings: MDStabilitySettings, trajectories: Sequence[str],
              summaries: Sequence[str], frames: str, splits: str,
              outputs: Mapping[str, str]) -> None:
    """`ff_md_report`: NVE energy, Langevin temperature and g(r) figures and one table of the
    MD stability runs; g(r) against the test split's."""
    models = list(settings.models)
    runs = {m: load_trajectories(p) for m, p in zip(models, trajectories, strict=True)}
    stored = {m: read_json(p) for m, p in zip(models, summaries, strict=True)}
    test = _split(frames, splits, "test")
    # a molecule (no cell): intramolecular pair-distance density in place of g(r)
    cell = None if test.cell is None else test.cell[0]
    pbc = None if test.pbc is None else test.pbc[0]
    r_max, bins = settings.rdf.r_max, settings.rdf.bins
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
        rows += [{"model": model, **run, "rdf_l1_vs_reference_A": distance}
                 for run in stored[model]["runs"]]
        print(f"{model}: ∫|g - g_ref| dr = {distance:.3f} Å", flush=True)
    nve_energy_plot(outputs["nve"], runs)
    langevin_temperature_plot(outputs["langevin"], runs, settings.temperature)
    rdf_plot(outputs["rdf"], r, g_ref, curves)
    with atomic_path(outputs["table"]) as tmp:
        pd.DataFrame(rows).to_csv(tmp, index=False)
    write_json(outputs["summary"], {
        "dataset": dataset,
        "rdf": {"r": r, "reference": g_ref, **curves},
        "models": {m: _md_summary(stored[m], rdf_distance(curves[m], g_ref, r))
                   for m in models},
        "settings": stored[models[0]]["settings"],
    })


def _md_summary(stored: dict[str, Any], rdf_l1: float) -> dict[str, Any]:
    """One model's entry of md_stability.json from its summary.json; `engine`: which
    integrators ran it (`jax` or `ase`; null in a summary written before it was recorded)."""
    runs = stored["runs"]
    drifts = [abs(run.get("energy_drift_eV_per_atom_per_ps", np.nan)) for run in runs]
    return {"engine": stored.get("engine"), "runs": runs, "rdf_l1_vs_reference_A": rdf_l1,
            "all_stable": all(run["stable"] for run in runs),
            "max_abs_nve_drift_eV_per_atom_per_ps": float(np.nanmax(drifts))}
