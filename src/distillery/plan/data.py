"""The frames a plan measures on and the size of the training set a cycle runs over.

The dataset's ingested frames (`<results>/<dataset>/data/frames.parquet` and its splits) when
they exist; otherwise a few synthetic frames of the dataset's generated system, with the
training-set size the generator and split would give.
"""

from __future__ import annotations

import inspect
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from distillery.data.frames import FrameSet, read_frames
from distillery.data.generate.md_crystal import crystal
from distillery.data.generate.md_emt import simulate_alloy
from distillery.data.generate.xtb_molecule import load_molecule
from distillery.data.settings import at_temperature
from distillery.data.splits import random_split, read_splits
from distillery.errors import ConfigError
from distillery.forcefield.settings import ForcefieldSettings, RoleSettings
from distillery.potentials.model import fit_stats
from distillery.potentials.neighbours import Bucket, build_buckets
from distillery.settings import DatasetSettings

SYNTHETIC_FRAMES = 4
# frames are padded to a multiple of this many atoms, as the training loop's buckets are
ATOM_MULTIPLE = inspect.signature(build_buckets).parameters["atom_multiple"].default


@dataclass
class PlanData:
    source: str  # where the frames came from
    bucket: Bucket  # frames of the largest padded atom count: the steps are timed on these
    stats: dict[str, np.ndarray]  # per-element energy shifts and force scale
    frames_per_bucket: dict[int, int]  # training frames per padded atom count
    n_labels: int  # energies and force components of the training frames

    @property
    def n_train(self) -> int:
        return sum(self.frames_per_bucket.values())

    def batches_per_epoch(self, batch_size: int) -> int:
        return sum(-(-n // batch_size) for n in self.frames_per_bucket.values())


def plan_role(forcefield: ForcefieldSettings, role: str, dataset: str
              ) -> tuple[str, RoleSettings]:
    """The role the plan configures (`auto`: the teacher when the workflow trains it)."""
    trained_teacher = forcefield.teacher.source == "train"
    if role == "auto":
        role = "teacher" if trained_teacher else "student"
    if role == "teacher" and not trained_teacher:
        raise ConfigError(f"config: plan.role: teacher, but datasets.{dataset} takes its teacher "
                          f"from {forcefield.teacher.source}; fix: plan the student "
                          "(plan.role: student)")
    return role, getattr(forcefield, role)


def frames_path(results: str | Path, dataset: str) -> Path:
    return Path(results) / dataset / "data" / "frames.parquet"


def load_plan_data(entry: DatasetSettings, dataset: str, forcefield: ForcefieldSettings,
                   role: str, results: str | Path, seed: int, max_batch: int,
                   log: Callable[[str], None] = print) -> PlanData:
    """Training frames of `dataset` for `role`: the student trains on the distillation set,
    counted as each training frame with its displaced copies plus the teacher-MD frames."""
    path = frames_path(results, dataset)
    fractions = entry.split.model_dump()
    if path.exists():
        frames = read_frames(path)
        splits = path.with_name("splits.json")
        index = (read_splits(splits)["train"] if splits.exists()
                 else random_split(len(frames), fractions, seed)["train"])
        train, counts, source = frames.subset(index), None, str(path)
    else:
        train, n_frames = synthetic_frames(entry, dataset, seed, path)
        counts = np.full(len(random_split(n_frames, fractions, seed)["train"]),
                         train.n_atoms.max())
        source = f"{len(train)} synthetic frames of {entry.generate.kind} (no {path})"
    counts = train.n_atoms if counts is None else counts
    padded = np.maximum(-(-counts // ATOM_MULTIPLE), 1) * ATOM_MULTIPLE
    per_bucket = dict(sorted(Counter(padded.tolist()).items()))
    n_labels = int(np.sum(1 + 3 * counts))
    if role == "student":
        copies, md = forcefield.distill.displace.copies, forcefield.distill.md
        per_bucket = {size: n * (1 + copies) for size, n in per_bucket.items()}
        md_frames = min(md.starts, len(counts)) * (md.steps // md.every)
        per_bucket[max(per_bucket)] += md_frames  # counted where steps cost the most
        n_labels = n_labels * (1 + copies) + md_frames * (1 + 3 * int(counts.max()))
    largest = np.flatnonzero(train.n_atoms == train.n_atoms.max())[:max_batch]
    sample = train.subset(largest)
    model = getattr(forcefield, role).model
    bucket = max(build_buckets(sample, model.cutoff), key=lambda b: b.n_atoms)
    stats = fit_stats(train, train.energy, train.forces, model.max_z)
    log(f"plan data: {source}; {sum(per_bucket.values())} training frames for the {role}, "
        f"steps timed on {len(sample)} frames of {bucket.n_atoms} padded atoms")
    return PlanData(source, bucket, stats, per_bucket, n_labels)


def synthetic_frames(entry: DatasetSettings, dataset: str, seed: int, missing: Path
                     ) -> tuple[FrameSet, int]:
    """A few frames of a generated dataset's system, and how many frames the generator
    makes. EMT alloy frames come labelled from a short MD run; molecules and crystals are
    rattled copies (labels do not change a step's cost)."""
    generate, n = entry.generate, SYNTHETIC_FRAMES
    if generate is not None and generate.kind == "md_emt":
        short = at_temperature(generate, entry.temperature).model_copy(
            update={"n_frames": n, "stride": 1, "equilibration": 0})
        arrays = simulate_alloy(short, seed)
        total = generate.n_frames
        return FrameSet(numbers=[arrays["z"]] * n, positions=list(arrays["R"]),
                        energy=arrays["E"], forces=list(arrays["F"]),
                        cell=np.repeat(arrays["cell"][None], n, 0),
                        pbc=np.repeat(arrays["pbc"][None], n, 0)), total
    if generate is not None and generate.kind in ("xtb_molecule", "md_crystal"):
        atoms = (load_molecule(generate.molecule) if generate.kind == "xtb_molecule"
                 else crystal(generate))
        rng = np.random.default_rng(seed)
        positions = [atoms.positions + rng.normal(scale=0.05, size=atoms.positions.shape)
                     for _ in range(n)]
        periodic = bool(atoms.pbc.any())
        return FrameSet(numbers=[atoms.numbers] * n, positions=positions, energy=np.zeros(n),
                        forces=[np.zeros_like(p) for p in positions],
                        cell=np.repeat(atoms.cell.array[None], n, 0) if periodic else None,
                        pbc=np.repeat(atoms.pbc[None], n, 0) if periodic else None
                        ), generate.n_frames
    raise ConfigError(f"{missing}: missing, and datasets.{dataset} is not generated as an EMT "
                      f"alloy, an xTB molecule or a crystal; fix: build it first "
                      f"(snakemake {missing})")
