"""Export the payload model beside the exported students that name it."""

from distillery.can.steps import export_payload
from distillery.workflow import run_script


def main(snakemake) -> None:
    export_payload(snakemake.input.model, snakemake.output.model)


run_script(main, snakemake)
