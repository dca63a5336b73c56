"""The model card of one student."""

from distillery.forcefield import steps
from distillery.workflow import run_script


def main(snakemake) -> None:
    inp, out, params = snakemake.input, snakemake.output, snakemake.params
    steps.card(snakemake.wildcards.model, inp.metrics, inp.info, inp.get("md"),
               params.temperature, out.card)


run_script(main, snakemake)
