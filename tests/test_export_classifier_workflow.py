"""The classifier export rule on the tiny CAN data, with small (untrained) students saved where
the training rules put theirs: TorchScript for every student, ONNX for the MLP, all checked
against the in-process logits."""

from __future__ import annotations

import torch
import yaml

from distillery.can.dataset import load_graphs
from distillery.can.export import graph_tensors, onnx_logits, torchscript_logits
from distillery.can.models.build import build_classifier, load_classifier, save_classifier
from distillery.io import read_json
from distillery.settings import load as load_settings
from tests.conftest import DEFAULT_CONFIG, run_snakemake

# the students of the default config, as the training rules would build them
STUDENTS = {name: arch.as_dict() for name, arch in load_settings(
    yaml.safe_load(DEFAULT_CONFIG.read_text())).classifier("can").students.items()}


def test_classifier_export_rule(tmp_path):
    can = tmp_path / "results/can/classifier"
    run_snakemake(tmp_path, "results/can/classifier/graphs/test.npz")
    meta = read_json(can / "graphs/meta.json")
    n_classes = len(meta["classes"])
    for seed, (name, arch) in enumerate(STUDENTS.items()):
        torch.manual_seed(seed)
        model = build_classifier(arch, len(meta["features"]), n_classes, meta["feature_mean"],
                                 meta["feature_std"])
        save_classifier(can / f"models/{name}_kd.safetensors", model, arch,
                        {"classes": meta["classes"], "n_classes": n_classes})
    exported = {(f"{s}_kd", "torchscript") for s in STUDENTS}
    exported |= {(f"{s}_kd", "onnx") for s, arch in STUDENTS.items() if arch["kind"] == "mlp"}
    assert any(fmt == "onnx" for _, fmt in exported)
    targets = [f"results/can/export/classifier/{m}/check_{fmt}.json" for m, fmt in exported]
    # the models above stand in for the training rules, which are not run here
    run_snakemake(tmp_path, *targets, "--allowed-rules", "can_export")
    graph = graph_tensors(load_graphs(can / "graphs/test.npz")[0])
    for model_name, fmt in exported:
        directory = tmp_path / f"results/can/export/classifier/{model_name}"
        check = read_json(directory / f"check_{fmt}.json")
        assert check["passed"] and check["n_graphs"] > 1
        model, _ = load_classifier(can / f"models/{model_name}.safetensors")
        run = torchscript_logits if fmt == "torchscript" else onnx_logits
        logits = run(directory / f"model.{fmt}", graph)
        assert logits.shape == (1, n_classes)
        with torch.no_grad():
            reference = model(load_graphs(can / "graphs/test.npz")[0]).numpy()
        assert abs(logits - reference).max() < 1e-4
