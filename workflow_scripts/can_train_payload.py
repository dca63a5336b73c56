"""Train the per-ID payload model of the CAN track on the normal training windows."""

from distillery.can.steps import train_payload
from distillery.workflow import run_script


def main(snakemake) -> None:
    inp, out = snakemake.input, snakemake.output
    train_payload(snakemake.params.payload, frames=inp.frames, windows=inp.windows,
                  meta=inp.meta, output=out.model)


run_script(main, snakemake)
