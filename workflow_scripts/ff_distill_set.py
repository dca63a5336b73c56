"""Gather the teacher-labelled chunks into the distillation set and its HVP targets."""

import numpy as np

from distillery.data.frames import read_frames, write_frames
from distillery.forcefield.labelling import composition, gather_chunks
from distillery.io import atomic_write
from distillery.workflow import run_script


def main(snakemake) -> None:
    frames = read_frames(snakemake.input.frames)
    chunks = []
    for path in snakemake.input.labels:
        with np.load(path) as stored:
            chunks.append({k: stored[k] for k in stored.files})
    distilled, directions, targets = gather_chunks(frames, chunks)
    write_frames(snakemake.output.frames, distilled)
    # an empty archive when HVP targets are off
    with atomic_write(snakemake.output.hvp) as handle:
        np.savez(handle, directions=directions, targets=targets)
    kinds = composition(distilled)
    print(f"distillation set: {kinds['frames']} frames (original {kinds['original']}, "
          f"displaced {kinds['displaced']}, teacher MD {kinds['teacher_md']})")


run_script(main, snakemake)
