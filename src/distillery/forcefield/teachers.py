"""Teachers from anywhere: a model trained in the workflow, any ASE calculator, or an export.

Every teacher labels frames (energy, forces), drives ASE MD for teacher-sampled frames and gives
Hessian-vector products: by autodiff for JAX models, by central finite differences of forces
for everything else (foundation models such as CHGNet, tblite's GFN2-xTB, EMT, exports).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

import numpy as np
from ase import Atoms
from ase.calculators.calculator import Calculator

from distillery.data.frames import FrameSet
from distillery.errors import ConfigError
from distillery.forcefield.ase_calculator import ExportedCalculator
from distillery.forcefield.settings import TeacherSettings
from distillery.imports import import_object
from distillery.potentials.calculator import ModelCalculator
from distillery.potentials.inference import predict
from distillery.potentials.model import ForceField, Params, load_model
from distillery.train.hvp import hvp_targets

Log = Callable[[str], None]


class Teacher(Protocol):
    """What distillation needs of a teacher."""

    name: str
    batched: bool  # labels many frames per call (JAX) or one at a time (ASE calculators)

    def label(self, frames: FrameSet, log: Log = print) -> tuple[np.ndarray, list[np.ndarray]]:
        """Energy (eV) per frame and forces (eV/Å) per frame."""

    def calculator(self) -> Calculator:
        """An ASE calculator for teacher-driven MD."""

    def hvp(self, frames: FrameSet, seed: int) -> tuple[list[np.ndarray], list[np.ndarray]]:
        """One standard-normal direction v per frame and dF/dR along it (= -H v)."""


def frame_atoms(frames: FrameSet, k: int) -> Atoms:
    """Frame `k` as ASE atoms (no cell unless periodic)."""
    periodic = frames.pbc is not None and bool(np.any(frames.pbc[k]))
    return Atoms(numbers=frames.numbers[k], positions=frames.positions[k],
                 cell=frames.cell[k] if periodic else None,
                 pbc=frames.pbc[k] if periodic else False)


class Progress:
    """`label 120/400 frames, 35.1 frames/s, ETA 8 s` lines, at most one per `every_s`."""

    def __init__(self, what: str, total: int, log: Log, every_s: float = 5.0) -> None:
        self.what, self.total, self.log, self.every_s = what, total, log, every_s
        self.start = self.last = time.perf_counter()

    def update(self, done: int) -> None:
        now = time.perf_counter()
        if done < self.total and now - self.last < self.every_s:
            return
        self.last = now
        rate = done / max(now - self.start, 1e-9)
        eta = (self.total - done) / rate if rate > 0 else float("inf")
        self.log(f"{self.what} {done}/{self.total} frames, {rate:.3g} frames/s, ETA {eta:.0f} s")


class JaxTeacher:
    """A distillery force field (trained in the workflow): batched labels, autodiff HVPs."""

    batched = True

    def __init__(self, model: ForceField, params: Params, name: str = "teacher") -> None:
        self.model, self.params, self.name = model, params, name

    def label(self, frames: FrameSet, log: Log = print) -> tuple[np.ndarray, list[np.ndarray]]:
        progress = Progress(f"{self.name}: label", len(frames), log)
        energy, forces = predict(self.model, self.params, frames)
        progress.update(len(frames))
        return energy, forces

    def calculator(self) -> Calculator:
        return ModelCalculator(self.model, self.params)

    def hvp(self, frames: FrameSet, seed: int) -> tuple[list[np.ndarray], list[np.ndarray]]:
        return hvp_targets(self.model, self.params, frames, seed)


class CalculatorTeacher:
    """Any ASE calculator, one structure per call; HVPs by central differences of forces."""

    batched = False

    def __init__(self, calculator: Calculator, name: str, fd_step: float = 0.01) -> None:
        self._calculator, self.name, self.fd_step = calculator, name, fd_step

    def _forces(self, atoms: Atoms) -> tuple[float, np.ndarray]:
        # ASE calculators return cached results for unchanged atoms: always compute afresh
        self._calculator.reset()
        atoms.calc = self._calculator
        return float(atoms.get_potential_energy()), np.asarray(atoms.get_forces(), np.float64)

    def label(self, frames: FrameSet, log: Log = print) -> tuple[np.ndarray, list[np.ndarray]]:
        progress = Progress(f"{self.name}: label", len(frames), log)
        energy, forces = np.empty(len(frames)), []
        for k in range(len(frames)):
            energy[k], f = self._forces(frame_atoms(frames, k))
            forces.append(f)
            progress.update(k + 1)
        return energy, forces

    def calculator(self) -> Calculator:
        return self._calculator

    def hvp(self, frames: FrameSet, seed: int) -> tuple[list[np.ndarray], list[np.ndarray]]:
        """(F(R + h v) - F(R - h v)) / 2h: second-order accurate, two force calls per frame."""
        rng = np.random.default_rng(seed)
        directions = [rng.standard_normal((len(z), 3)) for z in frames.numbers]
        h, targets = self.fd_step, []
        for k, v in enumerate(directions):
            atoms = frame_atoms(frames, k)
            atoms.positions = frames.positions[k] + h * v
            plus = self._forces(atoms)[1]
            atoms.positions = frames.positions[k] - h * v
            minus = self._forces(atoms)[1]
            targets.append((plus - minus) / (2.0 * h))
        return directions, targets


def load_teacher(settings: TeacherSettings, path: str | Path | None = None) -> Teacher:
    """The teacher that `settings.source` names. `path`: the trained teacher's model.npz
    (source train) or a file of the export directory (source export)."""
    if settings.source == "ase":
        cls = import_object(settings.calculator or "", "forcefield.teacher.calculator")
        return CalculatorTeacher(cls(**settings.kwargs), settings.calculator.rpartition(":")[2],
                                 settings.fd_step)
    if path is None:
        raise ConfigError(f"forcefield.teacher.source {settings.source}: no teacher file given")
    if settings.source == "export":
        return CalculatorTeacher(ExportedCalculator(Path(path).parent), "export",
                                 settings.fd_step)
    model, params = load_model(Path(path).parent)
    return JaxTeacher(model, params)
