"""One chunk of the distillation frames labelled by the teacher."""

from distillery.forcefield import steps
from distillery.train.jax_device import enable_compilation_cache
from distillery.workflow import run_script


def main(snakemake) -> None:
    inp, out, params = snakemake.input, snakemake.output, snakemake.params
    enable_compilation_cache(params.cache_dir)
    steps.label_distill(params.teacher, inp.get("teacher"), params.distill, inp.frames,
                        int(snakemake.wildcards.chunk), params.seed, out.labels)


run_script(main, snakemake)
