"""Export one trained graph classifier (TorchScript or ONNX) with its detector metadata
(window settings, alarm thresholds on normal validation windows) and check the exported logits
against the in-process model on test-split graphs."""

from distillery.can.dataset import load_graphs
from distillery.can.export import (
    detector_metadata,
    export_onnx,
    export_torchscript,
    graph_tensors,
    max_logit_difference,
    onnx_logits,
    torchscript_logits,
)
from distillery.can.models.build import load_classifier
from distillery.errors import DistilleryError
from distillery.io import read_json, write_json
from distillery.workflow import run_script

FORMATS = {"torchscript": (export_torchscript, torchscript_logits),
           "onnx": (export_onnx, onnx_logits)}


def main(snakemake) -> None:
    params, out = snakemake.params, snakemake.output
    name = snakemake.wildcards.model
    export, run = FORMATS[params.format]
    model, _ = load_classifier(snakemake.input.model)
    metadata = detector_metadata(model, name, read_json(snakemake.input.meta),
                                 load_graphs(snakemake.input.val), params.fprs, params.batch_size)
    graphs = [graph_tensors(g) for g in load_graphs(snakemake.input.graphs)[:params.check_graphs]]
    export(model, graphs[0], out.model, metadata)
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
