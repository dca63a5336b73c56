"""Test-set metrics, latency and speed-up of every CAN classifier; confusion matrices; the IDS
figures of every scored model and fusion, also on the four vehicle/attack splits; the payload
model's size and speed; the operating points on a long attack-free capture."""

import torch

from distillery.can.steps import evaluate_classifiers
from distillery.workflow import run_script


def main(snakemake) -> None:
    torch.set_num_threads(snakemake.threads)
    p, inp, out = snakemake.params, snakemake.input, snakemake.output
    evaluate_classifiers(
        snakemake.wildcards.dataset, dict(zip(p.models, inp.models, strict=True)), p.lineup,
        p.held_out, p.ids, p.goals, p.evaluate, p.device, test=inp.test, meta=inp.meta,
        scores=inp.scores, windows=inp.windows, metrics=out.metrics, table=out.table,
        confusion=out.confusion, ids_csv=out.ids, detection=out.detection,
        vehicle_splits=out.vehicle_splits, payload=inp.get("payload"), frames=inp.get("frames"),
        operating_points=inp.get("operating_points"))


run_script(main, snakemake, tracked=True)
