"""Export one trained graph classifier (TorchScript or ONNX) and check the exported logits
against the in-process model on test-split graphs."""

from distillery.can.dataset import load_graphs
from distillery.can.export import (
    export_onnx,
    export_torchscript,
    graph_tensors,
    max_logit_difference,
    onnx_logits,
    onnx_supported,
    torchscript_logits,
)
from distillery.can.models.build import load_classifier
from distillery.errors import DistilleryError
from distillery.io import write_json
from distillery.workflow import run_script

FORMATS = {"torchscript": (export_torchscript, torchscript_logits),
           "onnx": (export_onnx, onnx_logits)}


def main(snakemake) -> None:
    params, out = snakemake.params, snakemake.output
    name = snakemake.wildcards.model
    export, run = FORMATS[params.format]
    model, _ = load_classifier(snakemake.input.model)
    if params.format == "onnx" and not onnx_supported(model):
        raise DistilleryError(f"{snakemake.input.model}: graph attention layers cannot be "
                              "exported to ONNX (data-dependent edge count); use TorchScript")
    graphs = [graph_tensors(g) for g in load_graphs(snakemake.input.graphs)[:params.check_graphs]]
    export(model, graphs[0], out.model)
    diff = max_logit_difference(model, graphs, run, out.model)
    passed = diff <= params.tolerance
    write_json(out.check, {"model": name, "format": params.format, "n_graphs": len(graphs),
                           "max_logit_diff": diff, "tolerance": params.tolerance,
                           "passed": passed})
    print(f"{name} ({params.format}): max |exported - in-process| logit on {len(graphs)} test "
          f"graphs: {diff:.2e}")
    if not passed:
        raise DistilleryError(f"exported {name} ({params.format}) logits differ by {diff:.2e}, "
                              f"more than {params.tolerance}; see {out.check}")


run_script(main, snakemake)
