"""Train one CAN classifier: the teacher, or a student with (KD) or without the teacher."""

import torch

from distillery.can.steps import train_classifier
from distillery.train.data_parallel_torch import gpu_ranks, launched_rank, relaunch_ranks
from distillery.workflow import run_script


def main(snakemake) -> None:
    torch.set_num_threads(snakemake.threads)
    p, inp, out = snakemake.params, snakemake.input, snakemake.output
    # one DDP rank per visible GPU, each running this script; rank 0 writes the outputs
    if relaunch_ranks(gpu_ranks(p.device)):
        return
    train_classifier(p.model, p.train, p.curriculum, p.held_out, p.device,
                     graphs={"train": inp.train, "val": inp.val}, meta=inp.meta,
                     checkpoints=p.checkpoints, output=out.model, history=out.history,
                     teacher=inp.get("teacher"), windows=inp.get("windows"))


# a rank that relaunch_ranks started: its launcher keeps the log and the job's records
if launched_rank():
    main(snakemake)
else:
    run_script(main, snakemake, tracked=True)
