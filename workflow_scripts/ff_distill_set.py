"""The labelled chunks gathered into the distillation set and its HVP targets."""

from distillery.forcefield import steps
from distillery.workflow import run_script


def main(snakemake) -> None:
    inp, out = snakemake.input, snakemake.output
    steps.gather_distill(inp.frames, list(inp.labels), out.frames, out.hvp)


run_script(main, snakemake)
