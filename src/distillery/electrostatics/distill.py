"""The student's training set: frames labelled by the teacher charge model.

The teacher is cheap next to the quantum-chemical reference, so it labels the training frames
and randomly displaced copies of them (each copy keeps its frame's ESP points, which stay
outside the molecule for displacements of a few hundredths of an Å). Its labels are the
charges of its atoms, and the ESP, dipole and quadrupole of its charges.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from distillery.data.frames import FrameSet, per_atom
from distillery.electrostatics.model import ChargeModel, total_charges
from distillery.electrostatics.training import predict


def displaced_copies(frames: FrameSet, copies: int, sigma: float,
                     rng: np.random.Generator) -> FrameSet:
    """The frames followed by `copies` copies of each with Gaussian displacements (Å) of
    every coordinate; ESP points and total charges are kept, other labels dropped."""
    index = np.tile(np.arange(len(frames)), copies + 1)
    copy = np.repeat(np.arange(copies + 1), len(frames))
    positions = [np.asarray(frames.positions[k], np.float64)
                 + (rng.normal(scale=sigma, size=np.shape(frames.positions[k])) if c else 0.0)
                 for k, c in zip(index, copy, strict=True)]
    return FrameSet(numbers=[frames.numbers[k] for k in index], positions=positions,
                    extras={"esp_grid": np.asarray(frames.extras["esp_grid"])[index],
                            "total_charge": total_charges(frames)[index],
                            "distill_copy": copy})


def teacher_labelled(frames: FrameSet, model: ChargeModel, params: Any,
                     batch_size: int = 16) -> FrameSet:
    """`frames` with the teacher's charges (`mono`), ESP, dipole and quadrupole as labels."""
    predicted = predict(model, params, frames, batch_size)
    return FrameSet(numbers=frames.numbers, positions=frames.positions, extras={
        **frames.extras, "mono": per_atom(predicted["mono"]), "esp": predicted["esp"],
        "dipole": predicted["dipole"], "quadrupole": predicted["quadrupole"]})


def distill_set(train: FrameSet, model: ChargeModel, params: Any, copies: int, sigma: float,
                seed: int, batch_size: int = 16) -> FrameSet:
    """The training frames and `copies` displaced copies of each, labelled by the teacher
    (`distill_copy`: 0 for a training frame, k for its k-th copy)."""
    frames = displaced_copies(train, copies, sigma, np.random.default_rng(seed))
    return teacher_labelled(frames, model, params, batch_size)
