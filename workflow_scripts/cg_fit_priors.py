"""Fit priors on the training frames, or read the user's `cg.priors.file`; write them (NPZ +
readable YAML), a summary and plots."""

from distillery.cg.energy import KINDS
from distillery.cg.steps import cg_fit_priors
from distillery.workflow import run_script


def main(snakemake) -> None:
    inp, out, params = snakemake.input, snakemake.output, snakemake.params
    cg_fit_priors(inp.frames, inp.beads, inp.splits, params.cg, params.temperature,
                  dataset=snakemake.wildcards.dataset, out_priors=out.priors,
                  out_readable=out.readable, out_summary=out.summary,
                  out_plots={kind: out[f"plot_{kind}"] for kind in KINDS},
                  priors_file=inp.get("user"), truth=inp.get("truth"))


run_script(main, snakemake)
