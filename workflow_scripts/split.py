"""Seeded train/val/test index files of a dataset."""

from distillery.data import steps
from distillery.workflow import run_script


def main(snakemake) -> None:
    steps.split(snakemake.params.split, snakemake.input.frames, snakemake.params.seed,
                snakemake.output[0])


run_script(main, snakemake)
