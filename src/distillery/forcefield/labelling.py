"""The distillation set: training frames plus augmented frames, labelled by the teacher."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from distillery.data.frames import FrameSet
from distillery.errors import ConfigError
from distillery.forcefield.augment import displaced_frames, teacher_md_frames
from distillery.forcefield.settings import DistillSettings
from distillery.models.inference import predict
from distillery.models.model import ForceField, Params
from distillery.train.ff_loop import Labels

# `augmentation` column of the distillation set
ORIGINAL, DISPLACED, TEACHER_MD = 0, 1, 2


def concat_frames(parts: list[FrameSet]) -> FrameSet:
    """Frames of several sets one after another (all with or all without cell and labels)."""
    def cat(name: str) -> np.ndarray | None:
        values = [getattr(p, name) for p in parts]
        return None if any(v is None for v in values) else np.concatenate(values)

    return FrameSet(
        numbers=[z for p in parts for z in p.numbers],
        positions=[r for p in parts for r in p.positions],
        energy=cat("energy"),
        forces=None if any(p.forces is None for p in parts) else
        [f for p in parts for f in p.forces],
        cell=cat("cell"), pbc=cat("pbc"),
        extras={k: np.concatenate([p.extras[k] for p in parts]) for k in parts[0].extras})


def build_distill_set(train: FrameSet, teacher: ForceField, params: Params,
                      cfg: DistillSettings, seed: int,
                      log: Callable[[str], None] = print) -> FrameSet:
    """Training frames + displaced copies + teacher-MD frames, all labelled by the teacher.

    Extras: `source_frame` (row of `train` each frame derives from) and `augmentation`.
    cfg keys: `displace: {copies, sigma}`, `md: {starts, steps, every, temperature,
    timestep_fs}` (copies or starts 0 switch a kind off).
    """
    rng = np.random.default_rng(seed)
    original = FrameSet(train.numbers, train.positions, cell=train.cell, pbc=train.pbc,
                        extras={"source_frame": np.arange(len(train), dtype=np.int64)})
    parts = [(ORIGINAL, original)]
    displace, md = cfg.displace, cfg.md
    if displace.copies > 0:
        parts.append((DISPLACED, displaced_frames(train, displace.sigma, displace.copies, rng)))
    if md.starts > 0:
        if md.temperature is None:
            raise ConfigError("forcefield.distill.md.temperature: missing, expected the "
                              "temperature (K) of teacher-driven MD, or the dataset's")
        parts.append((TEACHER_MD, teacher_md_frames(
            train, teacher, params, md.starts, md.steps, md.every, md.temperature,
            md.timestep_fs, rng, log)))
    for kind, part in parts:
        part.extras["augmentation"] = np.full(len(part), kind, np.int64)
    frames = concat_frames([p for _, p in parts])
    log(f"labelling {len(frames)} frames with the teacher "
        f"({', '.join(f'{len(p)} kind {k}' for k, p in parts)})")
    frames.energy, frames.forces = predict(teacher, params, frames)
    return frames


def mixed_labels(distill: FrameSet, reference: FrameSet, teacher_weight: float) -> Labels:
    """Student targets: `w * teacher + (1 - w) * reference` on original frames (which have
    reference labels), the teacher's alone on augmented frames."""
    energy = distill.energy.copy()
    forces = [f.copy() for f in distill.forces]
    w = float(teacher_weight)
    originals = np.flatnonzero(distill.extras["augmentation"] == ORIGINAL)
    for k in originals:
        src = int(distill.extras["source_frame"][k])
        energy[k] = w * energy[k] + (1.0 - w) * reference.energy[src]
        forces[k] = w * forces[k] + (1.0 - w) * reference.forces[src]
    return Labels(energy, forces)
