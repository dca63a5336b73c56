"""Collect the export checks of a dataset's distilled students into one file."""

from distillery.io import read_json, write_json
from distillery.workflow import run_script


def main(snakemake) -> None:
    checks = [read_json(path) for path in snakemake.input]
    write_json(snakemake.output[0], {"checks": checks,
                                     "passed": all(c["passed"] for c in checks)})
    print(f"{len(checks)} exports checked")


run_script(main, snakemake)
