"""The student's training set labelled by the teacher charge model (`es_distill`)."""

from distillery.electrostatics import steps
from distillery.train.jax_device import enable_compilation_cache
from distillery.workflow import run_script


def main(snakemake) -> None:
    inp, params = snakemake.input, snakemake.params
    enable_compilation_cache(params.cache_dir)
    steps.distill(inp.teacher, params.distill, inp.frames, inp.splits, params.seed,
                  snakemake.output.frames)


run_script(main, snakemake)
