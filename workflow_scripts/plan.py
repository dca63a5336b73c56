"""Plan a force-field dataset for this machine: measured steps, a config overlay per mode."""

from distillery.plan.run import PlanTarget, run_plan
from distillery.tracking import tracked_job
from distillery.train.jax_device import enable_compilation_cache
from distillery.train.plan_settings import MODES
from distillery.workflow import run_script


def main(snakemake) -> None:
    params = snakemake.params
    enable_compilation_cache(params.cache_dir)
    target = PlanTarget(snakemake.wildcards.dataset, params.dataset, params.forcefield,
                        params.seed)
    # the run logs every measurement as it is made, so the script opens it itself
    with tracked_job(snakemake) as run:
        run_plan(target, params.plan, MODES, params.results, run)


run_script(main, snakemake)
