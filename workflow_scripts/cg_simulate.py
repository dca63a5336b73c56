"""Langevin simulation of the CG models from test frames; distributions against the reference
(Jensen–Shannon divergences, 2-D free-energy surface) and stability."""

from distillery.cg.simulation import cg_simulate
from distillery.train.jax_device import enable_compilation_cache
from distillery.workflow import run_script


def main(snakemake) -> None:
    inp, out, params = snakemake.input, snakemake.output, snakemake.params
    enable_compilation_cache(params.cache_dir)
    cg_simulate(inp.frames, inp.splits, inp.priors, params.simulate, params.models,
                out_summary=out.summary, out_table=out.table, out_trajectory=out.trajectory,
                out_distributions=out.distributions, out_fes=out.fes, delta=inp.get("model"),
                full_priors=inp.get("full_priors"), checkpoint=params.checkpoint,
                checkpoints=params.checkpoints)


run_script(main, snakemake, tracked=True)
