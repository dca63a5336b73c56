"""Export graph classifiers (forward(Data) -> logits) as TorchScript and ONNX.

Both formats take plain tensors of one graph: node features `x` (n, F), `edge_index` (2, E)
and `edge_attr` (E, 1); node and edge counts are dynamic.

ONNX goes through `torch.export`. That fails for PyG's GATConv: after removing self loops the
edge count is data-dependent and GATConv branches on it (`index.numel() == 0`), which
`torch.export` cannot guard on; the legacy TorchScript-based ONNX exporter fails on its
`add_self_loops(fill_value="mean")`. Attention models are therefore exported as TorchScript
only (`onnx_supported`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch_geometric.data import Data
from torch_geometric.nn import GATConv

from distillery.io import atomic_path

INPUTS = ("x", "edge_index", "edge_attr")
Graph = tuple[torch.Tensor, torch.Tensor, torch.Tensor]


class TensorGraphModel(nn.Module):
    """A `forward(Data)` classifier called with the tensors of one graph."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model.eval()

    def forward(self, x: torch.Tensor, edge_index: torch.Tensor, edge_attr: torch.Tensor
                ) -> torch.Tensor:
        return self.model(Data(x=x, edge_index=edge_index, edge_attr=edge_attr))


def graph_tensors(graph: Data) -> Graph:
    return graph.x.float(), graph.edge_index.long(), graph.edge_attr.float().view(-1, 1)


def onnx_supported(model: nn.Module) -> bool:
    return not any(isinstance(m, GATConv) for m in model.modules())


def export_torchscript(model: nn.Module, example: Graph, path: str | Path) -> None:
    """Traced TorchScript; tracing records sizes as ops, so other graph sizes work."""
    with torch.no_grad():
        traced = torch.jit.trace(TensorGraphModel(model), example, check_trace=False)
    with atomic_path(path) as tmp:
        torch.jit.save(traced, str(tmp))


def export_onnx(model: nn.Module, example: Graph, path: str | Path) -> None:
    nodes, edges = torch.export.Dim("nodes"), torch.export.Dim("edges")
    program = torch.onnx.export(
        TensorGraphModel(model), example, dynamo=True, input_names=list(INPUTS),
        output_names=["logits"], verbose=False,
        dynamic_shapes={"x": {0: nodes}, "edge_index": {1: edges}, "edge_attr": {0: edges}})
    with atomic_path(path) as tmp:
        program.save(str(tmp), external_data=False)


def torchscript_logits(path: str | Path, graph: Graph) -> np.ndarray:
    module = torch.jit.load(str(path), map_location="cpu")
    with torch.no_grad():
        return module(*graph).numpy()


def onnx_logits(path: str | Path, graph: Graph) -> np.ndarray:
    import onnxruntime  # imported here: only ONNX checks need the runtime

    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    names = {i.name for i in session.get_inputs()}  # unused inputs are pruned from the graph
    feed = {k: v.numpy() for k, v in zip(INPUTS, graph, strict=True) if k in names}
    return session.run(None, feed)[0]


def max_logit_difference(model: nn.Module, graphs: list[Graph], run: Any, path: str | Path
                         ) -> float:
    """Largest |exported - in-process| logit over `graphs`, with `run(path, graph)`."""
    wrapped = TensorGraphModel(model)
    worst = 0.0
    with torch.no_grad():
        for graph in graphs:
            reference = wrapped(*graph).numpy()
            worst = max(worst, float(np.abs(run(path, graph) - reference).max()))
    return worst
