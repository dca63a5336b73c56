"""Map all-atom frames to coarse-grained beads (the dataset's `cg.mapping`); write the beads'
types and bonds beside them."""

from distillery.cg.frames import map_dataset
from distillery.cg.mapping import bonds_to_hydrogen, constraint_warnings, from_config
from distillery.data.frames import read_frames, write_frames
from distillery.workflow import run_script


def main(snakemake) -> None:
    settings = snakemake.params.cg
    frames = read_frames(snakemake.input.frames)
    beads, info = map_dataset(frames, settings, snakemake.input.frames)
    print(f"mapped {len(frames)} frames of {frames.n_atoms[0]} atoms to "
          f"{beads.n_atoms[0]} beads of types {list(info.types)}")
    if snakemake.params.constrained_hydrogens and settings.topology is not None:
        mapping = from_config(settings, frames.numbers[0], snakemake.input.frames)
        for warning in constraint_warnings(mapping, bonds_to_hydrogen(settings.topology)):
            print(f"WARNING: {warning}")
    write_frames(snakemake.output.frames, beads)
    info.save(snakemake.output.beads)


run_script(main, snakemake)
