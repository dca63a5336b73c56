"""The coarse-grained track's steps, one per workflow rule (`cg_simulate` lives in
`cg.simulation`): typed settings and file paths in, the rule's files out, callable without
Snakemake. The scripts in workflow_scripts/ only hand over the rule's files and params."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import pandas as pd
from ase import units

from distillery.cg.delta import load_models, mode_metrics, mode_predictions, train_delta
from distillery.cg.energy import KINDS, Priors
from distillery.cg.frames import map_dataset
from distillery.cg.mapping import BeadInfo, bonds_to_hydrogen, constraint_warnings, from_config
from distillery.cg.plots import plot_fit, plot_mode_parity, plot_placeholder
from distillery.cg.prior_fit import class_histograms, fit_priors
from distillery.cg.record import cg_metrics
from distillery.cg.serialise import load_priors, priors_to_dict, read_user_priors, save_priors
from distillery.cg.settings import (
    CGGoalSettings,
    CGModel,
    DeltaSettings,
    MappingSettings,
    PriorFitSettings,
)
from distillery.cg.topology import from_config as topology_from_config
from distillery.cg.truth import parameter_recovery, read_reference_terms
from distillery.data.frames import FrameSet, read_frames, write_frames
from distillery.data.splits import read_splits
from distillery.io import atomic_path, read_json, write_json, write_yaml
from distillery.metrics.build import goal_lines
from distillery.metrics.record import write_metrics
from distillery.potentials.model import count_parameters, save_model
from distillery.sweeps import split_variant
from distillery.train.history import MetricsHistory
from distillery.train.jax_device import describe_jax_device

PathLike = str | Path


def split_frames(frames: PathLike, splits: PathLike, *names: str) -> list[FrameSet]:
    """The frames of the named splits (`train`, `val`, `test`) of a dataset."""
    every, index = read_frames(frames), read_splits(splits)
    return [every.subset(index[name]) for name in names]


def cg_map(frames: PathLike, settings: MappingSettings, out_frames: PathLike,
           out_beads: PathLike, constrained_hydrogens: bool = False) -> None:
    """All-atom frames to beads (`cg.mapping`); the beads' types and bonds beside them. With
    `constrained_hydrogens` (the reference constrained X-H bonds), warn where the mapping
    loses constraint forces."""
    atoms = read_frames(frames)
    beads, info = map_dataset(atoms, settings, str(frames))
    print(f"mapped {len(atoms)} frames of {atoms.n_atoms[0]} atoms to "
          f"{beads.n_atoms[0]} beads of types {list(info.types)}")
    if constrained_hydrogens and settings.topology is not None:
        mapping = from_config(settings, atoms.numbers[0], str(frames))
        for warning in constraint_warnings(mapping, bonds_to_hydrogen(settings.topology)):
            print(f"WARNING: {warning}")
    write_frames(out_frames, beads)
    info.save(out_beads)


def cg_fit_priors(frames: PathLike, beads: PathLike, splits: PathLike,
                  settings: PriorFitSettings, temperature: float | None, *, dataset: str,
                  out_priors: PathLike, out_readable: PathLike, out_summary: PathLike,
                  out_plots: Mapping[str, PathLike], priors_file: PathLike | None = None,
                  truth: PathLike | None = None) -> Priors:
    """Priors fitted by Boltzmann inversion of the training frames at `temperature` (K), or
    read from `priors_file` (`cg.priors.file`: then `temperature` is unused); written as NPZ
    and readable YAML, with a summary and a plot of each kind over the training histograms.
    `truth`: the generator's true parameters, to report how well they are recovered."""
    (train,) = split_frames(frames, splits, "train")
    positions, info = train.stacked_positions(), BeadInfo.load(beads)
    if priors_file is None:
        topology = topology_from_config(settings, info, "config")
        print(f"fitting {settings.fit} priors on {len(train)} training frames: "
              f"{len(topology.bonds)} bonds, {len(topology.angles)} angles, "
              f"{len(topology.dihedrals)} dihedrals, {len(topology.pairs)} non-bonded pairs")
        priors, hists = fit_priors(positions, topology, units.kB * temperature, settings)
    else:
        priors = read_user_priors(priors_file, info)
        print(f"priors read from {priors_file} ({priors.kind}); histograms of {len(train)} "
              "training frames beside them")
        hists = class_histograms(positions, priors.topology, priors.kt, settings)
    for kind in KINDS:
        print(f"{kind} classes: {sorted(hists.get(kind, {}))}")
    write_priors(out_priors, out_readable, priors)
    readable = priors_to_dict(priors)

    reference = read_reference_terms(truth, settings.dihedral_order) if truth else {}
    summary = {"dataset": dataset, "kind": priors.kind, "n_train_frames": len(train),
               "source": "fit" if priors_file is None else str(priors_file),
               "temperature": priors.kt / units.kB if priors_file else float(temperature),
               "kT": priors.kt,
               "terms": {k: readable[k] for k in KINDS},
               "mean": {kind: {cls: float(h.mean) for cls, h in by_class.items()}
                        for kind, by_class in hists.items()}}
    if reference:
        summary["recovery"] = parameter_recovery(priors, hists, reference)
        for name, row in summary["recovery"].items():
            print(f"{name}: " + ", ".join(f"{k} {v:.4g}" for k, v in row.items()))
    write_json(out_summary, summary)
    for name in KINDS:
        if name not in hists:
            plot_placeholder(out_plots[name], f"no {name} interactions in this molecule")
            continue
        plot_fit(out_plots[name], name, hists[name], priors.terms.get(name), priors.kt,
                 reference.get(name), align=name != "pair")
    return priors


def write_priors(out_priors: PathLike, out_readable: PathLike, priors: Priors) -> None:
    """Priors as NPZ (loads for any kind) and readable YAML beside it."""
    save_priors(out_priors, priors)
    readable = priors_to_dict(priors)
    if priors.kind == "spline":
        readable["tables"] = f"spline tables are stored in {Path(out_priors).name}"
    write_yaml(out_readable, readable)


def cg_train_delta(frames: PathLike, splits: PathLike, priors: PathLike,
                   settings: DeltaSettings, checkpoints: PathLike, *, out_model: PathLike,
                   out_history_csv: PathLike, out_history_parquet: PathLike,
                   out_info: PathLike, out_priors: PathLike, out_priors_readable: PathLike,
                   train_priors: bool = False) -> None:
    """The ML force field trained on the reference minus the prior (resumes from the latest
    checkpoint); with `train_priors` (`cg.priors.train`) the parametric prior terms are
    refined with it. `out_priors`: the full model's priors, refined or the fitted ones. Only
    rank 0 of a multi-process run writes the outputs."""
    train, val = split_frames(frames, splits, "train", "val")
    history = MetricsHistory(out_history_csv, out_history_parquet)
    fitted = load_priors(priors)
    model, result, full = train_delta(settings.model, settings.train, train, val, fitted,
                                      checkpoints, history, train_priors=train_priors)
    if not result.is_main:
        return
    info = {"role": "delta", "target": "reference minus prior", "priors_trained": train_priors,
            **result.info}
    if train_priors:
        info["refined_priors"] = refinement(fitted, full)
        for line in info["refined_priors"]:
            print(f"refined prior {line}")
    save_model(Path(out_model).parent, model, result.params, meta={"training": info})
    write_priors(out_priors, out_priors_readable, full)
    write_json(out_info, info)


def refinement(fitted: Priors, refined: Priors) -> list[str]:
    """One line per parametric term: its fitted and refined parameters."""
    before, after = priors_to_dict(fitted), priors_to_dict(refined)
    lines = []
    for kind in KINDS:
        for name, term in (after.get(kind) or {}).items():
            old = before[kind][name]
            changed = [f"{k} {_short(old[k])} -> {_short(v)}" for k, v in term.items()
                       if k not in ("form", "exponent", "epsilon") and v != old[k]]
            if changed:
                lines.append(f"{kind} {name}: " + ", ".join(changed))
    return lines


def _short(value: object) -> str:
    if isinstance(value, list):
        return "[" + ", ".join(f"{v:.4g}" for v in value) + "]"
    return f"{value:.4g}"


def cg_evaluate_modes(frames: PathLike, splits: PathLike, priors: PathLike,
                      models: Sequence[CGModel], *, dataset: str, out_metrics: PathLike,
                      out_table: PathLike, out_parity: PathLike,
                      delta: PathLike | None = None, simulation: PathLike | None = None,
                      goals: CGGoalSettings | None = None, full_priors: PathLike | None = None,
                      checkpoint: str | None = None, checkpoints: PathLike | None = None,
                      priors_trained: bool = False) -> dict[str, dict[str, float]]:
    """Force and energy metrics of `models` (`CGSettings.models`) on the test split: the
    metrics record, a table and a force parity plot. `delta`: the delta model's file, needed
    by every model but `prior-only`; `full_priors`: the priors it was trained with (refined
    with `priors_trained`); `checkpoint`: a checkpoint of its training in `checkpoints`
    evaluated instead of the final model (`cg.evaluate.checkpoint`). `simulation`:
    `cg_simulate`'s summary, whose figures join the record with the `goals` checked on them.
    `dataset` may be a sweep variant."""
    (test,) = split_frames(frames, splits, "test")
    fitted, model, params, full = load_models(priors, delta, full_priors, checkpoint,
                                              checkpoints)
    if checkpoint is not None:
        print(f"evaluating the delta model of checkpoint {checkpoint}")
    predictions = mode_predictions(fitted, model, params, test, models, full_priors=full)
    metrics = mode_metrics(predictions, test)
    for mode in metrics:
        if mode != "prior-only":
            metrics[mode]["n_parameters"] = count_parameters(params["net"])
    for mode, row in metrics.items():
        print(f"{mode:>10}: force RMSE {row['force_rmse']:.4g} eV/Å, "
              f"MAE {row['force_mae']:.4g} eV/Å, R² {row['force_r2']:.4f}")
    name, variant = split_variant(dataset)
    record = cg_metrics(name, metrics, describe_jax_device(), n_frames=len(test),
                        simulation=read_json(simulation) if simulation else None, goals=goals,
                        variant=variant, priors_trained=priors_trained,
                        checkpoint=checkpoint if delta is not None else None)
    write_metrics(out_metrics, record)
    for line in goal_lines(record):
        print(f"goal {line}")
    with atomic_path(out_table) as tmp:
        pd.DataFrame([{"mode": m, **row} for m, row in metrics.items()]).to_csv(tmp, index=False)
    plot_mode_parity(out_parity, {m: f for m, (_, f) in predictions.items()},
                     test.stacked_forces())
    return metrics
