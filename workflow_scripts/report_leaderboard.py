"""Collect every dataset's metrics.json into the leaderboard table and its size plot."""

from distillery.report.leaderboard import build_leaderboard, write_leaderboard
from distillery.report.leaderboard_plot import plot_metric_vs_size
from distillery.workflow import run_script


def main(snakemake) -> None:
    table = build_leaderboard(list(snakemake.input))
    out = snakemake.output
    write_leaderboard(table, out.parquet, out.csv, out.html)
    plot_metric_vs_size(table, out.plot)
    print(f"leaderboard: {len(table)} models from {len(list(snakemake.input))} metrics files")


run_script(main, snakemake)
