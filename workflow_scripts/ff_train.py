"""Train a force field: the teacher, a distilled student or a baseline (`ff_train`)."""

from distillery.forcefield import steps
from distillery.train.jax_device import enable_compilation_cache
from distillery.workflow import run_script


def main(snakemake) -> None:
    inp, out, params = snakemake.input, snakemake.output, snakemake.params
    enable_compilation_cache(params.cache_dir)
    steps.train(snakemake.wildcards.model, params.role, inp.frames, inp.splits, dict(out.items()),
                params.checkpoints, distill=inp.get("distill"), hvp=inp.get("hvp"),
                teacher_weight=params.teacher_weight, student_info=inp.get("student_info"))


run_script(main, snakemake, tracked=True)
