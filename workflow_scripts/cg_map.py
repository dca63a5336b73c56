"""Map all-atom frames to coarse-grained beads (the dataset's `cg.mapping`)."""

from distillery.cg.frames import map_dataset
from distillery.data.frames import read_frames, write_frames
from distillery.workflow import run_script


def main(snakemake) -> None:
    frames = read_frames(snakemake.input.frames)
    beads = map_dataset(frames, snakemake.params.cg, snakemake.input.frames)
    print(f"mapped {len(frames)} frames of {frames.n_atoms[0]} atoms to "
          f"{beads.n_atoms[0]} beads")
    write_frames(snakemake.output.frames, beads)


run_script(main, snakemake)
