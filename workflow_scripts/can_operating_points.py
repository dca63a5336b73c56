"""Operating points at low false-positive rates: a long attack-free capture streamed through
the detectors the fusions combine and the fusions; thresholds on its first windows, measured
false-positive rate and false alarms per hour on the rest, detection of the attack test
windows at each threshold."""

import torch

from distillery.can.steps import measure_operating_points
from distillery.workflow import run_script


def main(snakemake) -> None:
    torch.set_num_threads(snakemake.threads)
    p, inp, out = snakemake.params, snakemake.input, snakemake.output
    measure_operating_points(
        p.operating_points, p.held_out, p.device, p.batch_size, capture=inp.capture,
        models=dict(zip(p.models, inp.models, strict=True)), fusion=inp.fusion,
        scores=inp.scores, windows=inp.windows, meta=inp.meta, output=out.json,
        table=out.table, payload=inp.get("payload"))


run_script(main, snakemake)
