"""PySCF electrostatic reference labels of another dataset's frames (`es_reference`)."""

from distillery.electrostatics import steps
from distillery.workflow import run_script


def main(snakemake) -> None:
    params, out = snakemake.params, snakemake.output
    steps.reference(params.reference, snakemake.input.frames, params.seed, out.npz,
                    out.provenance)


run_script(main, snakemake)
