"""Accuracy of predicted labels (overall, per element, per Cartesian component), agreement with
the teacher, and the speed of calculator teachers (one structure per call)."""

from __future__ import annotations

import time
from typing import Any

import numpy as np
from ase.data import chemical_symbols

from distillery.data.frames import FrameSet
from distillery.forcefield.teachers import Teacher
from distillery.metrics.regression import energy_metrics, force_metrics


def label_metrics(energy: np.ndarray, forces: list[np.ndarray], ref_energy: np.ndarray,
                  ref_forces: list[np.ndarray], numbers: list[np.ndarray]) -> dict[str, Any]:
    """Energy/force errors of predictions against references, plus `force_mae_<element>` and
    `force_mae_x|y|z` (eV/Å)."""
    pred, ref = np.concatenate(forces), np.concatenate(ref_forces)
    z = np.concatenate(numbers)
    n_atoms = np.array([len(n) for n in numbers])
    out: dict[str, Any] = {**energy_metrics(energy, ref_energy, n_atoms),
                           **force_metrics(pred, ref)}
    error = np.abs(pred - ref)
    for element in np.unique(z):
        out[f"force_mae_{chemical_symbols[element]}"] = float(error[z == element].mean())
    for axis, name in enumerate("xyz"):
        out[f"force_mae_{name}"] = float(error[:, axis].mean())
    return out


def agreement(energy: np.ndarray, forces: list[np.ndarray], teacher_energy: np.ndarray,
              teacher_forces: list[np.ndarray], n_atoms: np.ndarray) -> dict[str, float]:
    """How closely a student reproduces its teacher: force and energy MAE against the
    teacher's predictions on the same frames, and the coefficient of determination R² of the
    force components (1 - residual / total sum of squares about the teacher's mean)."""
    mine, theirs = np.concatenate(forces).ravel(), np.concatenate(teacher_forces).ravel()
    total = float(np.sum((theirs - theirs.mean()) ** 2))
    return {"force_mae_vs_teacher": float(np.mean(np.abs(mine - theirs))),
            "force_r2_vs_teacher": (1.0 - float(np.sum((mine - theirs) ** 2)) / total
                                    if total > 0 else None),
            "energy_mae_per_atom_vs_teacher": float(np.mean(
                np.abs(np.asarray(energy) - teacher_energy) / n_atoms))}


def calculator_speed(teacher: Teacher, frames: FrameSet, min_seconds: float) -> dict[str, Any]:
    """Frames/s of a one-structure-per-call teacher over `frames` (repeated for at least
    `min_seconds`, at least one pass; the first call, which may load weights, is not timed)."""
    teacher.label(frames.subset([0]), log=lambda _: None)
    passes, start = 0, time.perf_counter()
    while passes == 0 or time.perf_counter() - start < min_seconds:
        teacher.label(frames, log=lambda _: None)
        passes += 1
    elapsed = time.perf_counter() - start
    return {"frames_per_s": passes * len(frames) / elapsed,
            "atoms_per_s": passes * int(frames.n_atoms.sum()) / elapsed, "batch_size": 1}
