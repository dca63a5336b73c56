"""Collect the export checks of a dataset's distilled students into one file."""

from distillery.can.steps import collect_export_checks
from distillery.workflow import run_script


def main(snakemake) -> None:
    collect_export_checks(list(snakemake.input), snakemake.output[0])


run_script(main, snakemake)
