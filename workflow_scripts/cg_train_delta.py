"""Train the ML force field on the residual of the priors (reference minus prior)."""

from distillery.cg.steps import cg_train_delta
from distillery.train.jax_device import enable_compilation_cache
from distillery.workflow import run_script


def main(snakemake) -> None:
    inp, out, params = snakemake.input, snakemake.output, snakemake.params
    enable_compilation_cache(params.cache_dir)
    cg_train_delta(inp.frames, inp.splits, inp.priors, params.delta, params.checkpoints,
                   out_model=out.model, out_history_csv=out.history_csv,
                   out_history_parquet=out.history_parquet, out_info=out.info,
                   out_priors=out.priors, out_priors_readable=out.priors_yaml,
                   train_priors=params.train_priors)


run_script(main, snakemake, tracked=True)
