"""Training frames, displaced copies and teacher-MD frames, not yet labelled."""

from distillery.forcefield import steps
from distillery.train.jax_device import enable_compilation_cache
from distillery.workflow import run_script


def main(snakemake) -> None:
    inp, out, params = snakemake.input, snakemake.output, snakemake.params
    enable_compilation_cache(params.cache_dir)
    steps.sample_distill(params.teacher, inp.get("teacher"), params.distill, inp.frames,
                         inp.splits, params.seed, out.frames)


run_script(main, snakemake)
