"""Graph attention classifier: GATConv layers, optional jumping knowledge, pooling, MLP head.

The teacher and the small student are this one class with different sizes.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn
from torch_geometric.data import Data
from torch_geometric.nn import GATConv, JumpingKnowledge

from distillery.can.models.layers import Standardize, graph_index, mlp, pool


class GATClassifier(nn.Module):
    """Node features -> `layers` GATConv blocks (heads concatenated to `hidden`, edge weights as
    attention inputs) -> jumping knowledge (`cat` or `max`, or the last layer) -> [mean, max]
    pooling -> MLP head with `head_layers` hidden layers -> class logits."""

    def __init__(
        self, in_dim: int, n_classes: int, mean: Sequence[float], std: Sequence[float], *,
        hidden: int, heads: int, layers: int, dropout: float,
        jk: str | None, head_layers: int,
    ) -> None:
        super().__init__()
        if hidden % heads:
            raise ValueError(f"hidden ({hidden}) must be a multiple of heads ({heads})")
        self.norm = Standardize(mean, std)
        self.convs = nn.ModuleList(
            GATConv(in_dim if i == 0 else hidden, hidden // heads, heads=heads, edge_dim=1,
                    dropout=dropout)
            for i in range(layers)
        )
        self.jk = JumpingKnowledge(jk) if jk else None
        node_dim = hidden * layers if jk == "cat" else hidden
        self.dropout = nn.Dropout(dropout)
        self.head = mlp(2 * node_dim, hidden, n_classes, head_layers, dropout)

    def forward(self, data: Data) -> torch.Tensor:
        batch, n_graphs = graph_index(data)
        h = self.norm(data.x)
        states = []
        for conv in self.convs:
            h = self.dropout(torch.nn.functional.elu(conv(h, data.edge_index, data.edge_attr)))
            states.append(h)
        h = self.jk(states) if self.jk is not None else h
        return self.head(pool(h, batch, n_graphs))
