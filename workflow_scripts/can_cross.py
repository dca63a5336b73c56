"""Models trained on one CAN dataset scored as intrusion detectors on another's test windows."""

import torch

from distillery.can.steps import cross_evaluate
from distillery.workflow import run_script


def main(snakemake) -> None:
    torch.set_num_threads(snakemake.threads)
    p, inp, out, wc = snakemake.params, snakemake.input, snakemake.output, snakemake.wildcards
    cross_evaluate(wc.source, wc.dataset, dict(zip(p.models, inp.models, strict=True)), p.ids,
                   p.device, p.batch_size, source_val=inp.source_val, test=inp.test,
                   meta=inp.meta, windows=inp.windows, output=out.json, table=out.table)


run_script(main, snakemake)
