"""Export graph classifiers (forward(Data) -> logits) as TorchScript and ONNX.

Both formats take plain tensors of one graph: node features `x` (n, F), `edge_index` (2, E)
and `edge_attr` (E, 1); node and edge counts are dynamic. Each file carries the detector
metadata (`detector_metadata`: window settings, classes, feature means, alarm thresholds) as
JSON: a TorchScript extra file, or an ONNX metadata property, both named `METADATA_KEY`.

ONNX goes through `torch.export`, which cannot trace PyG's GATConv: it filters out self loops
(a data-dependent edge count) and then branches on that count (`index.numel() == 0`). For
ONNX, every GATConv is therefore replaced by `MaskedGATConv`, the same attention with the same
weights computed over a fixed-size edge list: self loops are masked, not removed.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch_geometric.data import Data
from torch_geometric.nn import GATConv

from distillery.can.exported import METADATA_FORMAT, METADATA_KEY
from distillery.can.fusion import ZScaler, fit_stacking, stacking_scores
from distillery.can.ids import thresholds
from distillery.can.models.vgae import GraphVGAE
from distillery.can.scores import anomaly_scores
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


class MaskedGATConv(nn.Module):
    """GATConv's forward in eval mode (heads concatenated, 1-d edge attributes, self loops
    with the mean incoming edge attribute) without data-dependent shapes: existing self loops
    stay in the edge list with zero attention instead of being filtered out, then one loop per
    node is appended. Shares the parameters of the GATConv it wraps."""

    def __init__(self, conv: GATConv) -> None:
        super().__init__()
        supported = (conv.concat and conv.add_self_loops and conv.fill_value == "mean"
                     and conv.edge_dim == 1 and conv.lin is not None and conv.res is None
                     and conv.bias is not None)
        if not supported:
            raise ValueError(f"{conv}: only GATConv with concatenated heads, 1-d edge attributes, "
                             "mean-filled self loops and a bias can be exported to ONNX")
        self.conv = conv

    def forward(self, x: torch.Tensor, edge_index: torch.Tensor, edge_attr: torch.Tensor
                ) -> torch.Tensor:
        c = self.conv
        heads, channels, n = c.heads, c.out_channels, x.size(0)
        h = c.lin(x).view(-1, heads, channels)
        loops = torch.arange(n, device=x.device)
        src = torch.cat([edge_index[0], loops])
        dst = torch.cat([edge_index[1], loops])
        kept = (edge_index[0] != edge_index[1]).to(x.dtype)
        attr = edge_attr.view(-1) * kept
        # the loop of a node takes the mean attribute of its incoming non-loop edges (0 if none)
        total = torch.zeros(n, dtype=x.dtype, device=x.device).index_add(0, edge_index[1], attr)
        count = torch.zeros(n, dtype=x.dtype, device=x.device).index_add(0, edge_index[1], kept)
        attr = torch.cat([attr, total / count.clamp(min=1.0)])
        valid = torch.cat([kept, torch.ones(n, dtype=x.dtype, device=x.device)]) > 0
        # lin_edge has no bias, so an edge's attention term is its attribute times one weight
        edge_weight = (c.lin_edge.weight.view(heads, channels) * c.att_edge.view(heads, channels)
                       ).sum(-1)
        alpha = ((h * c.att_src).sum(-1)[src] + (h * c.att_dst).sum(-1)[dst]
                 + attr[:, None] * edge_weight)
        alpha = F.leaky_relu(alpha, c.negative_slope).masked_fill(~valid[:, None], float("-inf"))
        index = dst[:, None].expand_as(alpha)
        peak = torch.full((n, heads), float("-inf"), dtype=x.dtype, device=x.device)
        peak = peak.scatter_reduce(0, index, alpha, "amax")
        weight = torch.exp(alpha - peak[dst])
        norm = torch.zeros(n, heads, dtype=x.dtype, device=x.device).index_add(0, dst, weight)
        weight = weight / (norm[dst] + 1e-16)  # as torch_geometric.utils.softmax
        out = torch.zeros(n, heads, channels, dtype=x.dtype, device=x.device)
        out = out.index_add(0, dst, weight[:, :, None] * h[src])
        return out.reshape(n, heads * channels) + c.bias


def onnx_ready(model: nn.Module) -> nn.Module:
    """A copy of `model` with every GATConv replaced by its `MaskedGATConv`."""
    ready = copy.deepcopy(model).eval()
    for module in list(ready.modules()):
        for child_name, child in module.named_children():
            if isinstance(child, GATConv):
                setattr(module, child_name, MaskedGATConv(child))
    return ready


def graph_tensors(graph: Data) -> Graph:
    return graph.x.float(), graph.edge_index.long(), graph.edge_attr.float().view(-1, 1)


def detector_metadata(model: nn.Module, name: str, graphs_meta: Mapping[str, Any],
                      val_graphs: list[Data], fprs: Sequence[float], batch_size: int
                      ) -> dict[str, Any]:
    """What the live detector needs beside the model: window settings, classes, features and
    their training means, and the anomaly-score thresholds at the false-positive rates `fprs`
    on the normal validation windows (an alarm is score > threshold; the score of a
    classifier is 1 - p(normal), as in evaluation)."""
    if isinstance(model, GraphVGAE):
        raise ValueError("the VGAE scores windows by reconstruction; export classifiers only")
    scores = anomaly_scores(model, val_graphs, batch_size, torch.device("cpu"))
    normal = np.array([int(g.y) for g in val_graphs]) == 0
    cuts = thresholds(scores[normal], fprs)
    return {"format": METADATA_FORMAT, "model": name, "score": "1 - p(normal)",
            "classes": list(graphs_meta["classes"]), "features": list(graphs_meta["features"]),
            "feature_mean": list(graphs_meta["feature_mean"]),
            "windows": dict(graphs_meta["windows"]),
            "thresholds": {str(f): t for f, t in cuts.items()},
            "n_val_normal": int(normal.sum())}


def payload_fusion_metadata(student: np.ndarray, payload: np.ndarray, attack: np.ndarray,
                            fitted: np.ndarray, fprs: Sequence[float], l2: float,
                            payload_file: str, payload_sha256: str) -> dict[str, Any]:
    """How the live detector fuses the student's score (1 - p(normal)) with the payload
    model's, as the record's `stacking` fusion does: both as z-values (log score standardised
    by the normal windows among `fitted`), then a class-balanced logistic regression with
    ridge `l2` on the `fitted` validation windows; the fused score is its logit. Thresholds at
    `fprs` on the normal windows among `fitted`. `fitted` leaves out the windows of attacks
    not trained on, and should leave out the normal-labelled windows that hold attack frames
    (a burst's edge), whose high scores would otherwise set the low-FPR thresholds.
    `payload_file`: the payload model's path relative to the export's folder,
    `payload_sha256` its digest."""
    scores = np.stack([student, payload], 1)
    scaler = ZScaler.fit(scores[fitted], ~attack[fitted])
    z = scaler(scores)
    coef = fit_stacking(z[fitted], attack[fitted], l2=l2)
    fused = stacking_scores(coef, z)
    normal = fitted & ~attack
    cuts = thresholds(fused[normal], fprs)
    return {"file": payload_file, "sha256": payload_sha256, "fusion": "stacking",
            "score": "logit of p(attack | z(student), z(payload))",
            "z_mean": scaler.mean.tolist(), "z_std": scaler.std.tolist(),
            "coef": coef.tolist(), "thresholds": {str(f): t for f, t in cuts.items()},
            "n_val_fitted": int(fitted.sum()), "n_val_normal": int(normal.sum())}


def export_torchscript(model: nn.Module, example: Graph, path: str | Path,
                       metadata: Mapping[str, Any] | None = None) -> None:
    """Traced TorchScript; tracing records sizes as ops, so other graph sizes work."""
    with torch.no_grad():
        traced = torch.jit.trace(TensorGraphModel(model), example, check_trace=False)
    extra = {} if metadata is None else {METADATA_KEY: json.dumps(dict(metadata))}
    with atomic_path(path) as tmp:
        torch.jit.save(traced, str(tmp), _extra_files=extra)


def export_onnx(model: nn.Module, example: Graph, path: str | Path,
                metadata: Mapping[str, Any] | None = None) -> None:
    nodes, edges = torch.export.Dim("nodes"), torch.export.Dim("edges")
    program = torch.onnx.export(
        TensorGraphModel(onnx_ready(model)), example, dynamo=True, input_names=list(INPUTS),
        output_names=["logits"], verbose=False,
        dynamic_shapes={"x": {0: nodes}, "edge_index": {1: edges}, "edge_attr": {0: edges}})
    if metadata is not None:
        program.model.metadata_props[METADATA_KEY] = json.dumps(dict(metadata))
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
