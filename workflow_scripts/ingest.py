"""Ingest a dataset's raw files into validated Parquet."""

from distillery.data import steps
from distillery.workflow import run_script


def main(snakemake) -> None:
    steps.ingest(snakemake.wildcards.dataset, snakemake.params.data,
                 [str(p) for p in snakemake.input], snakemake.output.frames,
                 snakemake.output.summary)


run_script(main, snakemake)
