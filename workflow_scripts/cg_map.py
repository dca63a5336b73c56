"""Map all-atom frames to coarse-grained beads (the dataset's `cg.mapping`); write the beads'
types and bonds beside them."""

from distillery.cg.steps import cg_map
from distillery.workflow import run_script


def main(snakemake) -> None:
    inp, out, params = snakemake.input, snakemake.output, snakemake.params
    cg_map(inp.frames, params.cg, out.frames, out.beads,
           constrained_hydrogens=params.constrained_hydrogens)


run_script(main, snakemake)
