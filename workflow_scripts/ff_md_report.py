"""Figures and one table of the MD stability runs."""

from distillery.forcefield import steps
from distillery.workflow import run_script


def main(snakemake) -> None:
    inp, out, params = snakemake.input, snakemake.output, snakemake.params
    steps.md_report(snakemake.wildcards.dataset, params.md, list(inp.trajectories),
                    list(inp.summaries), inp.frames, inp.splits, dict(out.items()))


run_script(main, snakemake)
