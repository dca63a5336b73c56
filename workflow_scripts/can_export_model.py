"""Export one trained graph classifier (TorchScript or ONNX) with its detector metadata (and,
with a payload model, how the live detector fuses the two) and check the exported logits
against the in-process model on test-split graphs."""

from distillery.can.steps import export_model
from distillery.workflow import run_script


def main(snakemake) -> None:
    p, inp, out = snakemake.params, snakemake.input, snakemake.output
    export_model(snakemake.wildcards.model, snakemake.wildcards.format, inp.model, inp.graphs,
                 val=inp.val, meta=inp.meta, fprs=p.fprs, batch_size=p.batch_size,
                 check_graphs=p.check_graphs, tolerance=p.tolerance, output=out.model,
                 check=out.check, payload=inp.get("payload"), scores=inp.get("scores"),
                 windows=inp.get("windows"), held_out=p.held_out, stacking_l2=p.stacking_l2)


run_script(main, snakemake)
