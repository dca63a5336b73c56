"""Link a sweep variant's frames and splits to those of the dataset it varies."""

from distillery.sweeps import link_file
from distillery.workflow import run_script


def main(snakemake) -> None:
    for key in ("frames", "splits"):
        link_file(getattr(snakemake.input, key), getattr(snakemake.output, key))
    print(f"{snakemake.wildcards.dataset}: data of {snakemake.params.base}")


run_script(main, snakemake)
