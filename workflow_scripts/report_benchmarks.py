"""Collect the benchmark TSVs of every finished rule into one table."""

from distillery.report.benchmarks_table import (
    benchmarks_table,
    find_benchmarks,
    write_benchmarks,
)
from distillery.workflow import run_script


def main(snakemake) -> None:
    paths = find_benchmarks(snakemake.params.root, snakemake.params.exclude)
    table = benchmarks_table(paths, snakemake.params.patterns)
    write_benchmarks(table, snakemake.output.parquet, snakemake.output.html)
    print(f"benchmarks: {len(table)} jobs, {table['wall_s'].sum():.1f} s wall in total")


run_script(main, snakemake)
