"""Train a charge model: a teacher on the reference labels or the distilled student
(`es_train`)."""

from distillery.electrostatics import steps
from distillery.train.jax_device import enable_compilation_cache
from distillery.workflow import run_script


def main(snakemake) -> None:
    inp, out, params = snakemake.input, snakemake.output, snakemake.params
    enable_compilation_cache(params.cache_dir)
    steps.train(snakemake.wildcards.model, params.role, inp.frames, inp.splits,
                dict(out.items()), distill=inp.get("distill"))


run_script(main, snakemake, tracked=True)
