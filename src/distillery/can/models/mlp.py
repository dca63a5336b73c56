"""Graph-free student (GLNN-style): MLPs on node features and their pooled statistics, with no
message passing, so inference costs a few matrix products per window."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn
from torch_geometric.data import Data

from distillery.can.models.layers import Standardize, graph_index, mlp, pool


class PooledMLP(nn.Module):
    """Standardised node features -> per-node MLP (`node_layers`, 0 for none) -> per-graph
    `pools` (mean, max, min) -> MLP with `layers` hidden layers -> class logits.

    The per-node MLP lets pooling see feature combinations of one node (a fast ID that is also
    an unusual ID), which pooling raw features column by column would lose.
    """

    def __init__(
        self, in_dim: int, n_classes: int, mean: Sequence[float], std: Sequence[float], *,
        hidden: int, layers: int, node_layers: int, dropout: float,
        pools: Sequence[str],
    ) -> None:
        super().__init__()
        self.norm = Standardize(mean, std)
        self.node = (nn.Sequential(mlp(in_dim, hidden, hidden, node_layers - 1, dropout),
                                   nn.ReLU()) if node_layers > 0 else nn.Identity())
        self.pools = tuple(pools)
        width = hidden if node_layers > 0 else in_dim
        self.net = mlp(len(self.pools) * width, hidden, n_classes, layers, dropout)

    def forward(self, data: Data) -> torch.Tensor:
        pooled = pool(self.node(self.norm(data.x)), *graph_index(data), self.pools)
        return self.net(pooled)
