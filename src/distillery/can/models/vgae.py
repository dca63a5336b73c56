"""Variational graph auto-encoder of window graphs: the anomaly detector of the CAN track.

Trained on normal windows only, it reconstructs a window's ID-transition edges and its node
features; a window it reconstructs badly is unlike normal traffic. Decoding is dense per
window (a window has tens of IDs), so every node pair of a window is scored and no negative
edges are sampled: the score of a window is deterministic in eval mode.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn
from torch_geometric.data import Data
from torch_geometric.nn import VGAE, GATConv, GCNConv
from torch_geometric.utils import to_dense_adj, to_dense_batch

from distillery.can.models.layers import Standardize, graph_index, mlp

# columns of the per-window output: what the loss weighs and the score sums
EDGE, FEATURE, KL = 0, 1, 2


class _Encoder(nn.Module):
    """`layers` GAT (edge weights as attention inputs) or GCN (edge weights as weights) blocks,
    then linear maps to the mean and log-std of each node's latent vector."""

    def __init__(self, in_dim: int, *, encoder: str, hidden: int, latent: int, heads: int,
                 layers: int, dropout: float) -> None:
        super().__init__()
        self.gat = encoder == "gat"
        self.convs = nn.ModuleList(
            GATConv(in_dim if i == 0 else hidden, hidden // heads, heads=heads, edge_dim=1,
                    dropout=dropout) if self.gat
            else GCNConv(in_dim if i == 0 else hidden, hidden)
            for i in range(layers)
        )
        self.mu = nn.Linear(hidden, latent)
        self.logstd = nn.Linear(hidden, latent)

    def forward(self, x: torch.Tensor, edge_index: torch.Tensor, edge_attr: torch.Tensor
                ) -> tuple[torch.Tensor, torch.Tensor]:
        for conv in self.convs:
            x = F.elu(conv(x, edge_index, edge_attr if self.gat else edge_attr.view(-1)))
        # clamped as in PyG's VGAE.kl_loss: exp(2 * logstd) must not overflow
        return self.mu(x), self.logstd(x).clamp(max=10.0)


class GraphVGAE(nn.Module):
    """Standardised node features -> encoder -> latent z (sampled in training, the mean in
    eval) -> sigmoid(z_i . z_j) for every node pair of a window, and an MLP back to the
    standardised features.

    `forward` returns (n_graphs, 3): per window the mean edge binary cross entropy over all
    node pairs (the transition graph, symmetrised: the inner product is symmetric), the mean
    squared feature error per node and feature, and the mean KL divergence per node.
    """

    def __init__(self, in_dim: int, mean: Sequence[float], std: Sequence[float], *,
                 encoder: str, hidden: int, latent: int, heads: int, layers: int,
                 dropout: float, score_feature_weight: float, kl_weight: float) -> None:
        super().__init__()
        self.norm = Standardize(mean, std)
        self.vgae = VGAE(_Encoder(in_dim, encoder=encoder, hidden=hidden, latent=latent,
                                  heads=heads, layers=layers, dropout=dropout))
        self.features = mlp(latent, hidden, in_dim, 1, 0.0)
        self.score_feature_weight = float(score_feature_weight)
        self.kl_weight = float(kl_weight)

    def forward(self, data: Data) -> torch.Tensor:
        batch, n_graphs = graph_index(data)
        x = self.norm(data.x)
        z = self.vgae.encode(x, data.edge_index, data.edge_attr)  # samples only in training
        mu, logstd = self.vgae.__mu__, self.vgae.__logstd__
        dense, mask = to_dense_batch(z, batch, batch_size=n_graphs)
        adj = to_dense_adj(data.edge_index, batch, batch_size=n_graphs,
                           max_num_nodes=dense.shape[1])
        target = ((adj + adj.transpose(1, 2)) > 0).float()
        pairs = (mask[:, :, None] & mask[:, None, :]).float()
        logits = dense @ dense.transpose(1, 2)
        bce = F.binary_cross_entropy_with_logits(logits, target, reduction="none")
        edge = (bce * pairs).sum((1, 2)) / pairs.sum((1, 2)).clamp(min=1)
        nodes = torch.bincount(batch, minlength=n_graphs).clamp(min=1).float()
        per_node = ((self.features(z) - x) ** 2).mean(1)
        feature = torch.zeros(n_graphs, device=x.device).index_add_(0, batch, per_node) / nodes
        kl_node = -0.5 * (1 + 2 * logstd - mu**2 - logstd.exp() ** 2).sum(1)
        kl = torch.zeros(n_graphs, device=x.device).index_add_(0, batch, kl_node) / nodes
        return torch.stack([edge, feature, kl], dim=1)

    def score(self, parts: torch.Tensor) -> torch.Tensor:
        """Anomaly score per window from `forward`'s output: higher is less normal."""
        return parts[:, EDGE] + self.score_feature_weight * parts[:, FEATURE]

    def loss(self, parts: torch.Tensor) -> torch.Tensor:
        """The training objective: both reconstruction errors plus the weighted KL term."""
        return (parts[:, EDGE] + parts[:, FEATURE] + self.kl_weight * parts[:, KL]).mean()
