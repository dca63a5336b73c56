"""One table of every dataset: frames, split sizes and what ingest reported."""

from distillery.data import steps
from distillery.workflow import run_script


def main(snakemake) -> None:
    steps.summarise(snakemake.params.datasets, list(snakemake.input.summaries),
                    list(snakemake.input.splits), snakemake.output[0])


run_script(main, snakemake)
