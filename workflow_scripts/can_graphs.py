"""CAN frames -> window graphs per split (NPZ files), the windows table and graph metadata."""

from distillery.can.dataset import SPLITS
from distillery.can.steps import build_graphs
from distillery.workflow import run_script


def main(snakemake) -> None:
    inp, out = snakemake.input, snakemake.output
    build_graphs(snakemake.params.windows, inp.frames, inp.splits,
                 {split: out[split] for split in SPLITS}, out.windows, out.meta)


run_script(main, snakemake)
