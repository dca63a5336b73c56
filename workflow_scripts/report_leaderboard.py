"""The leaderboard table and its size plot, by SQL from the project database."""

from distillery.db.sync import read_manifest
from distillery.report.leaderboard import build_leaderboard, write_leaderboard
from distillery.report.leaderboard_plot import plot_metric_vs_size
from distillery.workflow import run_script


def main(snakemake) -> None:
    records = read_manifest(snakemake.input.db_sync).records
    table = build_leaderboard(snakemake.params.db, [r.source for r in records])
    out = snakemake.output
    write_leaderboard(table, out.parquet, out.csv, out.html)
    plot_metric_vs_size(table, out.plot)
    print(f"leaderboard: {len(table)} models from {len(records)} metrics records "
          f"in {snakemake.params.db}")


run_script(main, snakemake)
