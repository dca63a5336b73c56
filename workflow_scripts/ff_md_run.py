"""NVE and Langevin MD of one exported force field (JAX engine) or ASE teacher from test-split
structures."""

from distillery.forcefield import steps
from distillery.train.jax_device import enable_compilation_cache
from distillery.workflow import run_script


def main(snakemake) -> None:
    inp, out, params = snakemake.input, snakemake.output, snakemake.params
    enable_compilation_cache(params.cache_dir)
    steps.md_run(snakemake.wildcards.model, params.md, params.teacher, inp.get("program"),
                 inp.get("teacher"), inp.frames, inp.splits, params.seed, out.trajectories,
                 out.summary)


run_script(main, snakemake)
