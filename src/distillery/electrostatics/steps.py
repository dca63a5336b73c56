"""The electrostatics track's steps, one function per rule of `rules/electrostatics.smk`.

Each takes typed settings and paths and can be called without Snakemake; the rule's script
only passes its inputs, outputs and params on.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np

from distillery.data.frames import FrameSet, read_frames, write_frames
from distillery.data.splits import read_splits
from distillery.electrostatics.distill import distill_set
from distillery.electrostatics.evaluation import agreement, throughput
from distillery.electrostatics.generate import generate_reference
from distillery.electrostatics.metrics import (
    electrostatic_metrics,
    fitted_charges,
    point_charge_predictions,
)
from distillery.electrostatics.model import ChargeModel, load_charge_model, save_charge_model
from distillery.electrostatics.plots import dipole_parity, esp_error_surface, esp_parity
from distillery.electrostatics.record import electrostatics_metrics
from distillery.electrostatics.settings import (
    MODELS,
    ChargeRoleSettings,
    EsDistillSettings,
    EsEvaluateSettings,
    EsGoalSettings,
    ReferenceSettings,
)
from distillery.electrostatics.training import fit, predict
from distillery.io import write_json
from distillery.metrics.build import goal_lines
from distillery.metrics.record import write_metrics
from distillery.sweeps import split_variant
from distillery.train.history import MetricsHistory
from distillery.train.jax_device import describe_jax_device


def _splits(frames: str, splits: str) -> dict[str, FrameSet]:
    all_frames, split = read_frames(frames), read_splits(splits)
    return {name: all_frames.subset(split[name]) for name in ("train", "val", "test")}


def reference(settings: ReferenceSettings, frames: str, seed: int, output: str,
              provenance: str) -> None:
    """`es_reference`: PySCF labels of frames of the source dataset, as a compressed float32
    NPZ the ingest reads, and its provenance (settings, PySCF version, seconds per frame)."""
    record = generate_reference(read_frames(frames), output, settings, seed, compact=True)
    write_json(provenance, {**record, "source": settings.source})
    print(f"{record['n_frames']} frames labelled, {record['seconds_per_frame']:.2f} s per frame")


def train(model_name: str, role: ChargeRoleSettings, frames: str, splits: str,
          outputs: Mapping[str, str], distill: str | None = None) -> None:
    """`es_train`: a teacher on the reference labels of the training split, or the student on
    the teacher's labels of the distillation set (`distill`); validation on the reference
    labels of the validation split. One train-vs-validation line per epoch in the log."""
    data = _splits(frames, splits)
    train_set = read_frames(distill) if distill is not None else data["train"]
    model = ChargeModel(role.charges)
    params, history = fit(model, train_set, data["val"], role.train)
    MetricsHistory(outputs["history_csv"], outputs["history_parquet"]).load_state_dict(history)
    info = {"role": model_name, "train_frames": len(train_set), "val_frames": len(data["val"]),
            "epochs_run": len(history), "distilled": distill is not None,
            "best_val_esp_rmse": min(row["val_esp_rmse"] for row in history)}
    save_charge_model(Path(outputs["model"]).parent, model, params, meta={"training": info})
    write_json(outputs["info"], info)


def distill(teacher: str, settings: EsDistillSettings, frames: str, splits: str, seed: int,
            output: str) -> None:
    """`es_distill`: the training frames and displaced copies, labelled by the teacher."""
    model, params = load_charge_model(Path(teacher).parent)
    distilled = distill_set(_splits(frames, splits)["train"], model, params, settings.copies,
                            settings.sigma, seed)
    write_frames(output, distilled)
    print(f"distillation set: {len(distilled)} frames labelled by the teacher "
          f"({settings.copies} displaced copies of each training frame)")


def evaluate(dataset: str, model_files: Mapping[str, str], settings: EsEvaluateSettings,
             goals: EsGoalSettings, frames: str, splits: str,
             outputs: Mapping[str, str]) -> None:
    """`es_evaluate`: ESP RMSE, dipole, quadrupole and charge MAE on the test split of the
    reference charges, the per-frame fit and every learned model, the student's agreement
    with the teacher, speed, figures and the metrics record."""
    test = _splits(frames, splits)["test"]
    device = describe_jax_device()
    speed_frames = test.subset(range(min(settings.speed_frames, len(test))))
    mono = list(test.extras["mono"])
    predictions = {"per_frame_fit": point_charge_predictions(test, fitted_charges(test))}
    if any(np.any(q != 0) for q in mono):  # charges zero-filled at ingest are no baseline
        predictions = {"reference_charges": point_charge_predictions(test, mono),
                       **predictions}
    records = {name: electrostatic_metrics(p, test) for name, p in predictions.items()}
    loaded = {name: load_charge_model(Path(model_files[name]).parent)
              for name in MODELS if name in model_files}
    speeds = throughput(loaded, speed_frames, settings.batch_size, settings.speed_seconds)
    for name, (model, params) in loaded.items():
        predictions[name] = predict(model, params, test, settings.batch_size)
        records[name] = {**electrostatic_metrics(predictions[name], test), **speeds[name],
                         "n_dcm": model.settings.n_dcm,
                         "size_bytes": Path(model_files[name]).stat().st_size,
                         "device": device["platform"], "config": model.settings.as_dict()}
        if name != "teacher":
            records[name] |= agreement(predictions[name], predictions["teacher"], test)
    for name, figures in records.items():
        speed = f", {figures['frames_per_s']:.0f} frames/s" if "frames_per_s" in figures else ""
        print(f"{name}: ESP RMSE {figures['esp_rmse']:.3f} kcal/mol/e, dipole MAE "
              f"{figures['dipole_mae']:.3f} D, quadrupole MAE "
              f"{figures['quadrupole_mae']:.3f} D·Å{speed}")
    shown = {n: p for n, p in predictions.items() if n != "reference_charges"}
    esp_parity(outputs["esp_parity"], test.extras["esp"],
               {n: p["esp"] for n, p in predictions.items()})
    dipole_parity(outputs["dipole_parity"], test.extras["dipole"],
                  {n: p["dipole"] for n, p in predictions.items()})
    esp_error_surface(outputs["esp_surface"], test.numbers[0], test.positions[0],
                      np.asarray(test.extras["esp_grid"][0]), test.extras["esp"][0],
                      {n: p["esp"][0] for n, p in shown.items()},
                      int(read_splits(splits)["test"][0]))
    name, variant = split_variant(dataset)
    record = electrostatics_metrics(name, records, goals, device, n_frames=len(test),
                                    variant=variant)
    write_metrics(outputs["metrics"], record)
    for line in goal_lines(record):
        print(f"goal {line}")
