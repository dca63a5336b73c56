"""Record the configuration this run used (what the analytics notebook diffs)."""

from distillery.io import write_yaml
from distillery.workflow import run_script


def main(snakemake) -> None:
    write_yaml(snakemake.output[0], snakemake.params.config.as_dict())


run_script(main, snakemake)
