"""Label one chunk of the distillation frames with the teacher (energy, forces, HVP targets)."""

import numpy as np

from distillery.data.frames import read_frames
from distillery.forcefield.labelling import label_chunk
from distillery.forcefield.teachers import load_teacher
from distillery.io import atomic_write
from distillery.train.device import enable_compilation_cache
from distillery.workflow import run_script


def main(snakemake) -> None:
    params = snakemake.params
    enable_compilation_cache(params.cache_dir)
    frames = read_frames(snakemake.input.frames)
    teacher = load_teacher(params.teacher, snakemake.input.get("teacher"))
    chunk = int(snakemake.wildcards.chunk)
    arrays = label_chunk(frames, teacher, chunk, params.distill.chunks, params.distill.hvp,
                         params.seed + 1)
    with atomic_write(snakemake.output.labels) as handle:
        np.savez(handle, **arrays)
    print(f"chunk {chunk}/{params.distill.chunks}: {len(arrays['rows'])} frames labelled by "
          f"{teacher.name}")


run_script(main, snakemake)
