"""The distillation set: training frames plus augmented frames, sampled once and labelled by
the teacher in chunks (separate jobs, each its own output, so labelling resumes and spreads)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from distillery.data.frames import FrameSet
from distillery.errors import ConfigError
from distillery.forcefield.augment import displaced_frames, teacher_md_frames
from distillery.forcefield.settings import DistillSettings
from distillery.forcefield.teachers import Teacher
from distillery.train.potential_loop import Labels

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


def sample_distill_frames(train: FrameSet, teacher: Teacher | None, cfg: DistillSettings,
                          seed: int, log: Callable[[str], None] = print) -> FrameSet:
    """Training frames + displaced copies + teacher-MD frames, not yet labelled (`teacher` is
    needed only for teacher MD, `md.starts` > 0).

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
        if teacher is None:
            raise ConfigError("forcefield.distill.md.starts > 0 needs a teacher to drive MD")
        if md.temperature is None:
            raise ConfigError("forcefield.distill.md.temperature: missing, expected the "
                              "temperature (K) of teacher-driven MD, or the dataset's")
        parts.append((TEACHER_MD, teacher_md_frames(
            train, teacher.calculator(), md.starts, md.steps, md.every, md.temperature,
            md.timestep_fs, rng, log)))
    for kind, part in parts:
        part.extras["augmentation"] = np.full(len(part), kind, np.int64)
    log(f"distillation set: {sum(len(p) for _, p in parts)} frames "
        f"({', '.join(f'{len(p)} kind {k}' for k, p in parts)})")
    return concat_frames([p for _, p in parts])


def composition(distill: FrameSet) -> dict[str, int]:
    """Frames of each kind in a distillation set: all, original, displaced and teacher-MD."""
    counts = np.bincount(distill.extras["augmentation"], minlength=3)
    return {"frames": len(distill), "original": int(counts[ORIGINAL]),
            "displaced": int(counts[DISPLACED]), "teacher_md": int(counts[TEACHER_MD])}


def chunk_rows(n_frames: int, chunk: int, chunks: int) -> np.ndarray:
    """Rows of chunk `chunk` of `chunks` contiguous, near-equal chunks."""
    if not 0 <= chunk < chunks:
        raise ConfigError(f"distill chunk: found {chunk}, expected 0..{chunks - 1}")
    return np.array_split(np.arange(n_frames), chunks)[chunk]


def label_chunk(frames: FrameSet, teacher: Teacher, chunk: int, chunks: int, hvp: bool,
                seed: int, log: Callable[[str], None] = print) -> dict[str, np.ndarray]:
    """Teacher labels (and HVP targets when `hvp`) of one chunk, as flat arrays for one NPZ."""
    rows = chunk_rows(len(frames), chunk, chunks)
    part = frames.subset(rows)
    energy, forces = teacher.label(part, log)
    out = {"rows": rows, "energy": np.asarray(energy, np.float64),
           "forces": np.concatenate(forces) if forces else np.empty((0, 3))}
    directions, targets = [np.empty((0, 3))], [np.empty((0, 3))]
    if hvp and len(part):
        directions, targets = teacher.hvp(part, seed + chunk)
    out |= {"hvp_dir": np.concatenate(directions), "hvp_target": np.concatenate(targets)}
    return out


def gather_chunks(frames: FrameSet, chunks: list[dict[str, np.ndarray]]
                  ) -> tuple[FrameSet, np.ndarray, np.ndarray]:
    """The labelled distillation set and its HVP directions/targets (flat, frame order) from
    the chunks of `label_chunk`; every frame must be labelled exactly once."""
    rows = np.concatenate([c["rows"] for c in chunks])
    if not np.array_equal(np.sort(rows), np.arange(len(frames))):
        raise ConfigError(f"distill chunks: found {len(rows)} labelled rows, expected each of "
                          f"the {len(frames)} frames once; rerun the ff_distill_label jobs")
    order = np.argsort(rows)
    n_atoms = frames.n_atoms[rows]
    energy = np.concatenate([c["energy"] for c in chunks])
    forces = np.split(np.concatenate([c["forces"] for c in chunks]), np.cumsum(n_atoms)[:-1])
    labelled = FrameSet(frames.numbers, frames.positions, energy=energy[order],
                        forces=[forces[k] for k in order], cell=frames.cell, pbc=frames.pbc,
                        extras=frames.extras)

    def flat(key: str) -> np.ndarray:
        parts = [c[key] for c in chunks]
        if sum(len(p) for p in parts) == 0:
            return np.empty((0, 3))
        split = np.split(np.concatenate(parts), np.cumsum(n_atoms)[:-1])
        return np.concatenate([split[k] for k in order])

    return labelled, flat("hvp_dir"), flat("hvp_target")


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
