"""Label the training frames plus augmented frames with the trained teacher."""

from pathlib import Path

import numpy as np

from distillery.data.frames import read_frames, write_frames
from distillery.data.splits import read_splits
from distillery.forcefield.labelling import build_distill_set
from distillery.io import atomic_write
from distillery.models.model import load_model
from distillery.train.device import enable_compilation_cache
from distillery.train.hvp import hvp_targets
from distillery.workflow import run_script


def main(snakemake) -> None:
    params, out = snakemake.params, snakemake.output
    enable_compilation_cache(params.cache_dir)
    frames = read_frames(snakemake.input.frames)
    train = frames.subset(read_splits(snakemake.input.splits)["train"])
    teacher, teacher_params = load_model(Path(snakemake.input.teacher).parent)
    distilled = build_distill_set(train, teacher, teacher_params, params.distill, params.seed)
    write_frames(out.frames, distilled)
    # Hessian-vector-product targets only when asked for; otherwise an empty archive
    directions, targets = [np.empty((0, 3))], [np.empty((0, 3))]
    if params.distill.hvp:
        directions, targets = hvp_targets(teacher, teacher_params, distilled, params.seed + 1)
    with atomic_write(out.hvp) as handle:
        np.savez(handle, directions=np.concatenate(directions), targets=np.concatenate(targets))
    kinds = np.bincount(distilled.extras["augmentation"], minlength=3)
    print(f"distillation set: {len(distilled)} frames (original {kinds[0]}, displaced "
          f"{kinds[1]}, teacher MD {kinds[2]})")


run_script(main, snakemake)
