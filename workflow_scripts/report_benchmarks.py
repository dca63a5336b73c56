"""Collect the benchmark TSVs of every finished rule into one table and into the project
database (Snakemake writes a TSV after its job's own write-through, so the jobs cannot)."""

from distillery.db import write_through
from distillery.report.benchmarks_table import (
    benchmarks_table,
    find_benchmarks,
    write_benchmarks,
)
from distillery.workflow import run_script


def main(snakemake) -> None:
    params = snakemake.params
    paths = find_benchmarks(params.root, params.exclude)
    table = benchmarks_table(paths, params.patterns)
    write_benchmarks(table, snakemake.output.parquet, snakemake.output.html)
    # strict: the notebook reads this table from the database next
    write_through(params.db, params.root, paths, strict=True)
    print(f"benchmarks: {len(table)} jobs, {table['wall_s'].sum():.1f} s wall in total")


run_script(main, snakemake)
