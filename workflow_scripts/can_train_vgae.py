"""Train the VGAE anomaly detector of the CAN track on the normal training windows, or a small
VGAE that matches its anomaly scores."""

import torch

from distillery.can.steps import train_anomaly
from distillery.workflow import run_script


def main(snakemake) -> None:
    torch.set_num_threads(snakemake.threads)
    p, inp, out = snakemake.params, snakemake.input, snakemake.output
    train_anomaly(p.model, p.train, p.device, graphs={"train": inp.train, "val": inp.val},
                  meta=inp.meta, checkpoints=p.checkpoints, output=out.model,
                  history=out.history, teacher=inp.get("teacher"))


run_script(main, snakemake, tracked=True)
