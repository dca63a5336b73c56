"""One anomaly score per window from any model of the track: higher means more likely an
attack. A classifier scores 1 - p(normal); the VGAE its reconstruction error."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn
from torch_geometric.data import Data

from distillery.can.metrics import softmax
from distillery.can.models.vgae import GraphVGAE
from distillery.train.torch_loop import predict_logits


def anomaly_scores(model: nn.Module, graphs: list[Data], batch_size: int,
                   device: torch.device) -> np.ndarray:
    """Scores (n_graphs,) float64 in the order of `graphs`."""
    out = predict_logits(model.to(device), graphs, batch_size, device)
    if isinstance(model, GraphVGAE):
        return model.score(out).double().numpy()
    # 1 - p(normal) as the sum of the attack probabilities: no cancellation near p = 1
    return softmax(out.double().numpy())[:, 1:].sum(1)
