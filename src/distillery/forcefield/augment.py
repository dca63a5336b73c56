"""Augmented frames for distillation: random displacements and short teacher-driven MD."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from ase import Atoms, units
from ase.calculators.calculator import Calculator
from ase.md.langevin import Langevin
from ase.md.velocitydistribution import thermalize_momenta

from distillery.data.frames import FrameSet


def _unlabelled(frames: FrameSet, sources: list[int], positions: list[np.ndarray]) -> FrameSet:
    """Frames with the atoms/cell of `sources` and new positions, without labels."""
    return FrameSet(
        numbers=[frames.numbers[k] for k in sources], positions=positions,
        cell=None if frames.cell is None else frames.cell[sources],
        pbc=None if frames.pbc is None else frames.pbc[sources],
        extras={"source_frame": np.asarray(sources, np.int64)})


def displaced_frames(frames: FrameSet, sigma: float, copies: int,
                     rng: np.random.Generator) -> FrameSet:
    """`copies` of every frame with Gaussian displacements of `sigma` Å per coordinate."""
    sources = [k for k in range(len(frames)) for _ in range(copies)]
    positions = [frames.positions[k] + rng.normal(scale=sigma, size=frames.positions[k].shape)
                 for k in sources]
    return _unlabelled(frames, sources, positions)


def teacher_md_frames(frames: FrameSet, calculator: Calculator, starts: int,
                      steps: int, every: int, temperature: float, timestep_fs: float,
                      rng: np.random.Generator, log: Callable[[str], None] = print
                      ) -> FrameSet:
    """Short Langevin runs driven by the teacher's calculator from `starts` random frames;
    every `every`-th step is kept. Explores configurations next to the data that the reference
    never saw."""
    chosen = rng.choice(len(frames), size=min(starts, len(frames)), replace=False)
    sources: list[int] = []
    positions: list[np.ndarray] = []
    for n, k in enumerate(sorted(chosen.tolist())):
        periodic = frames.pbc is not None and bool(np.any(frames.pbc[k]))
        atoms = Atoms(numbers=frames.numbers[k], positions=frames.positions[k],
                      cell=frames.cell[k] if periodic else None,
                      pbc=frames.pbc[k] if periodic else False)
        atoms.calc = calculator
        thermalize_momenta(atoms, temperature, rng=rng)
        dyn = Langevin(atoms, timestep_fs * units.fs, temperature_K=temperature,
                       friction=0.02 / units.fs, fixcm=False, rng=rng)
        for _ in range(steps // every):
            dyn.run(every)
            sources.append(k)
            positions.append(atoms.positions.copy())
        log(f"teacher MD {n + 1}/{len(chosen)} from frame {k}: {steps} steps")
    return _unlabelled(frames, sources, positions)
