"""Export a trained force field to StableHLO and check it on test frames."""

from distillery.forcefield import steps
from distillery.workflow import run_script


def main(snakemake) -> None:
    inp, out, params = snakemake.input, snakemake.output, snakemake.params
    steps.export(snakemake.wildcards.model, params.export, inp.model, inp.frames, inp.splits,
                 out.meta, out.check)


run_script(main, snakemake)
