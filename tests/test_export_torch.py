"""TorchScript and ONNX exports of graph classifiers reproduce the in-process logits on graphs
of other sizes than the export example; graph attention exports to ONNX through MaskedGATConv."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from distillery.can.export import (
    MaskedGATConv,
    TensorGraphModel,
    export_onnx,
    export_torchscript,
    max_logit_difference,
    onnx_logits,
    onnx_ready,
    torchscript_logits,
)
from distillery.can.exported import METADATA_FORMAT, ExportedClassifier
from distillery.can.models.build import build_classifier

ARCHS = {
    "mlp": {"kind": "mlp", "hidden": 8, "layers": 2},
    "gat": {"kind": "gat", "hidden": 8, "heads": 2, "layers": 2, "jk": "cat"},
}
N_FEATURES, N_CLASSES = 6, 4


def _graph(n_nodes, n_edges, seed):
    g = torch.Generator().manual_seed(seed)
    return (torch.randn(n_nodes, N_FEATURES, generator=g),
            torch.randint(0, n_nodes, (2, n_edges), generator=g),
            torch.rand(n_edges, 1, generator=g))


def _model(kind):
    torch.manual_seed(0)
    mean, std = [0.5] * N_FEATURES, [2.0] * N_FEATURES
    return build_classifier(ARCHS[kind], N_FEATURES, N_CLASSES, mean, std).eval()


# random edges: repeated edges, self loops, nodes without incoming edges
GRAPHS = [_graph(7, 12, 0), _graph(11, 30, 1), _graph(3, 4, 2)]


@pytest.mark.parametrize("kind", sorted(ARCHS))
def test_torchscript_matches_in_process(tmp_path, kind):
    model = _model(kind)
    export_torchscript(model, GRAPHS[0], tmp_path / "model.pt")
    assert max_logit_difference(model, GRAPHS, torchscript_logits, tmp_path / "model.pt") < 1e-5
    other = _model(kind)
    with torch.no_grad():  # a different model must not pass the same check
        for p in other.parameters():
            p.add_(0.1)
    assert max_logit_difference(other, GRAPHS, torchscript_logits, tmp_path / "model.pt") > 1e-3


def test_onnx_matches_in_process(tmp_path):
    model = _model("mlp")
    export_onnx(model, GRAPHS[0], tmp_path / "model.onnx")
    assert max_logit_difference(model, GRAPHS, onnx_logits, tmp_path / "model.onnx") < 1e-5


def test_masked_attention_equals_gatconv():
    """The edge-list attention used for ONNX gives GATConv's logits, also on a graph without
    edges and on one node with only a self loop."""
    model = _model("gat")
    ready = onnx_ready(model)
    assert sum(isinstance(m, MaskedGATConv) for m in ready.modules()) == 2  # both layers
    graphs = [*GRAPHS, _graph(5, 0, 3), (torch.randn(1, N_FEATURES), torch.zeros(2, 1).long(),
                                          torch.rand(1, 1))]
    with torch.no_grad():
        for graph in graphs:
            torch.testing.assert_close(TensorGraphModel(ready)(*graph),
                                       TensorGraphModel(model)(*graph), rtol=0, atol=1e-6)


def test_attention_model_onnx_matches_in_process_and_carries_metadata(tmp_path):
    model = _model("gat")
    meta = {"format": METADATA_FORMAT, "classes": ["normal", "a", "b", "c"],
            "features": [f"f{i}" for i in range(N_FEATURES)], "feature_mean": [0.5] * N_FEATURES,
            "windows": {"size": 100, "stride": 50}, "thresholds": {"0.01": 0.5}}
    export_onnx(model, GRAPHS[0], tmp_path / "model.onnx", meta)
    assert max_logit_difference(model, GRAPHS, onnx_logits, tmp_path / "model.onnx") < 1e-5
    exported = ExportedClassifier(tmp_path / "model.onnx")
    assert exported.meta == meta
    x, edge_index, edge_attr = (t.numpy() for t in GRAPHS[1])
    with torch.no_grad():
        expected = TensorGraphModel(model)(*GRAPHS[1]).numpy()
    np.testing.assert_allclose(exported.logits(x, edge_index, edge_attr), expected, atol=1e-5)
    # occlusion: setting a node to the mean changes the score by its contribution
    share = exported.contributions(x, edge_index, edge_attr)
    masked = x.copy()
    masked[2] = 0.5
    assert share[2] == pytest.approx(exported.score(x, edge_index, edge_attr)
                                     - exported.score(masked, edge_index, edge_attr))
