"""Plot train/val curves of every per-epoch table a dataset's training rules wrote."""

from distillery.report.learning_curves import find_epoch_tables, plot_learning_curves
from distillery.workflow import run_script


def main(snakemake) -> None:
    tables = find_epoch_tables(snakemake.params.root)
    plot_learning_curves(tables, snakemake.output[0], title=snakemake.wildcards.dataset)
    print(f"learning curves from {len(tables)} tables: {', '.join(tables) or 'none'}")


run_script(main, snakemake)
