"""Test-split metrics, figures, speed and goals of every model of a dataset."""

from distillery.forcefield import steps
from distillery.train.jax_device import enable_compilation_cache
from distillery.workflow import run_script


def main(snakemake) -> None:
    inp, out, params = snakemake.input, snakemake.output, snakemake.params
    enable_compilation_cache(params.cache_dir)
    models = {name: inp.get(name) for name in params.models if inp.get(name)}
    infos = {name: inp.get(f"info_{name}") for name in params.models
             if inp.get(f"info_{name}")}
    steps.evaluate(snakemake.wildcards.dataset, params.models, models, infos, params.teacher,
                   inp.get("teacher"), params.evaluate, params.goals, inp.frames, inp.splits,
                   dict(out.items()), params.seed_groups)


run_script(main, snakemake, tracked=True)
