"""Accuracy of predicted labels (overall, per element, per Cartesian component), agreement with
the teacher, and every model's speed end to end through its ASE calculator (one structure per
call), the interface all of them share."""

from __future__ import annotations

import time
from typing import Any

import numpy as np
from ase.calculators.calculator import Calculator
from ase.data import chemical_symbols

from distillery.data.frames import FrameSet
from distillery.forcefield.teachers import frame_atoms
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


def calculator_speed(calculator: Calculator, frames: FrameSet, min_seconds: float
                     ) -> dict[str, Any]:
    """End-to-end frames/s of an ASE calculator over `frames` (repeated for at least
    `min_seconds`, at least one pass), the same for a teacher, a student and a baseline: each
    call hands it one structure and reads back energy and forces, after a `reset`, so that ASE
    never answers from its cache and the calculator decides itself what it can keep (a
    neighbour list that still holds). One untimed pass first loads weights and compiles every
    shape."""
    structures = [frame_atoms(frames, k) for k in range(len(frames))]

    def one_pass() -> None:
        for atoms in structures:
            calculator.reset()
            atoms.calc = calculator
            atoms.get_potential_energy()
            atoms.get_forces()

    one_pass()
    passes, start = 0, time.perf_counter()
    while passes == 0 or time.perf_counter() - start < min_seconds:
        one_pass()
        passes += 1
    elapsed = time.perf_counter() - start
    return {"frames_per_s": passes * len(frames) / elapsed,
            "atoms_per_s": passes * int(frames.n_atoms.sum()) / elapsed, "batch_size": 1,
            "calculator": type(calculator).__name__}
