"""The classifier export rule in the shared tiny run: TorchScript and ONNX for every distilled
student, each checked against the in-process logits, and the files run alone with their
detector metadata."""

from __future__ import annotations

import pytest
import torch

from distillery.can.dataset import load_graphs
from distillery.can.export import graph_tensors, onnx_logits, torchscript_logits
from distillery.can.exported import ExportedClassifier
from distillery.can.models.build import load_classifier
from distillery.io import read_json
from distillery.settings import load_files
from tests.conftest import DEFAULT_CONFIG, TINY_CONFIG

pytestmark = pytest.mark.workflow


def test_classifier_export_rule(tiny_run):
    students = load_files((DEFAULT_CONFIG, TINY_CONFIG)).classifier("can").students
    exported = {(f"{s}_kd", fmt) for s in students for fmt in ("torchscript", "onnx")}
    assert any(arch.kind == "gat" for arch in students.values())
    can = tiny_run / "results/can/classifier"
    graphs = load_graphs(can / "graphs/test.npz")
    meta = read_json(can / "graphs/meta.json")
    for model_name, fmt in exported:
        directory = tiny_run / f"results/can/export/classifier/{model_name}"
        check = read_json(directory / f"check_{fmt}.json")
        assert check["passed"] and check["n_graphs"] > 1
        model, _ = load_classifier(can / f"models/{model_name}.safetensors")
        run = torchscript_logits if fmt == "torchscript" else onnx_logits
        logits = run(directory / f"model.{fmt}", graph_tensors(graphs[0]))
        assert logits.shape == (1, len(meta["classes"]))
        with torch.no_grad():
            reference = model(graphs[0]).numpy()
        assert abs(logits - reference).max() < 1e-4
        detector = ExportedClassifier(directory / f"model.{fmt}").meta
        assert detector["model"] == model_name and detector["windows"] == meta["windows"]
        assert set(detector["thresholds"]) == {"0.01", "0.001"}
