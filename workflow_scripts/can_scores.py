"""Anomaly scores of every CAN model (and the payload model) on the validation and test windows,
plus the stacking and DQN fusions of the teacher's, the VGAE's and the payload model's scores
(fitted on validation windows)."""

import torch

from distillery.can.steps import score_models
from distillery.workflow import run_script


def main(snakemake) -> None:
    torch.set_num_threads(snakemake.threads)
    p, inp, out = snakemake.params, snakemake.input, snakemake.output
    score_models(dict(zip(p.models, inp.models, strict=True)), p.held_out, p.fusion, p.device,
                 p.batch_size, graphs={"val": inp.val, "test": inp.test}, meta=inp.meta,
                 scores=out.scores, fusion_model=out.fusion, payload=inp.get("payload"),
                 frames=inp.get("frames"), windows=inp.get("windows"))


run_script(main, snakemake)
