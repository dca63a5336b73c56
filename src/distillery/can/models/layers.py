"""Pieces shared by the graph classifiers: input standardisation and graph pooling."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn
from torch_geometric.data import Data
from torch_geometric.nn import global_max_pool, global_mean_pool


class Standardize(nn.Module):
    """(x - mean) / std with the training-set statistics kept as buffers (saved with the model)."""

    def __init__(self, mean: Sequence[float], std: Sequence[float]) -> None:
        super().__init__()
        self.register_buffer("mean", torch.as_tensor(mean, dtype=torch.float32))
        self.register_buffer("std", torch.as_tensor(std, dtype=torch.float32))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.mean) / self.std


def graph_index(data: Data) -> tuple[torch.Tensor, int]:
    """The graph of every node and the number of graphs; a single un-batched graph has no
    `batch` vector."""
    batch = getattr(data, "batch", None)
    if batch is None:
        return torch.zeros(data.num_nodes, dtype=torch.long, device=data.x.device), 1
    return batch, data.num_graphs


POOLS = {
    "mean": global_mean_pool,
    "max": global_max_pool,
    "min": lambda h, batch, n: -global_max_pool(-h, batch, n),
}


def pool(h: torch.Tensor, batch: torch.Tensor, n_graphs: int,
         kinds: Sequence[str] = ("mean", "max")) -> torch.Tensor:
    """Per-graph statistics of node vectors, concatenated: the mean sees rates, max and min see
    single outlying nodes (a flooded ID, an ID never seen in normal traffic)."""
    return torch.cat([POOLS[k](h, batch, n_graphs) for k in kinds], dim=1)


def mlp(in_dim: int, hidden: int, out_dim: int, layers: int, dropout: float) -> nn.Sequential:
    """`layers` hidden Linear+ReLU(+Dropout) blocks followed by a Linear output."""
    blocks: list[nn.Module] = []
    width = in_dim
    for _ in range(layers):
        blocks += [nn.Linear(width, hidden), nn.ReLU()]
        if dropout > 0:
            blocks.append(nn.Dropout(dropout))
        width = hidden
    blocks.append(nn.Linear(width, out_dim))
    return nn.Sequential(*blocks)
