"""Metrics of the CG models on the test split: full, prior-only, ml-only (prior-only alone
without a delta model), with the simulation's figures and the track's goals."""

from distillery.cg.steps import cg_evaluate_modes
from distillery.train.jax_device import enable_compilation_cache
from distillery.workflow import run_script


def main(snakemake) -> None:
    inp, out, params = snakemake.input, snakemake.output, snakemake.params
    enable_compilation_cache(params.cache_dir)
    cg_evaluate_modes(inp.frames, inp.splits, inp.priors, params.models,
                      dataset=snakemake.wildcards.dataset, out_metrics=out.metrics,
                      out_table=out.table, out_parity=out.parity, delta=inp.get("model"),
                      simulation=inp.simulation, goals=params.goals,
                      full_priors=inp.get("full_priors"), checkpoint=params.checkpoint,
                      checkpoints=params.checkpoints, priors_trained=params.priors_trained)


run_script(main, snakemake, tracked=True)
