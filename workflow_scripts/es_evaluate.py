"""Test-split electrostatics of the baselines and every charge model, speed, figures, goals
(`es_evaluate`)."""

from distillery.electrostatics import steps
from distillery.train.jax_device import enable_compilation_cache
from distillery.workflow import run_script


def main(snakemake) -> None:
    inp, out, params = snakemake.input, snakemake.output, snakemake.params
    enable_compilation_cache(params.cache_dir)
    steps.evaluate(snakemake.wildcards.dataset, {m: inp[m] for m in params.models},
                   params.evaluate, params.goals, inp.frames, inp.splits, dict(out.items()))


run_script(main, snakemake, tracked=True)
