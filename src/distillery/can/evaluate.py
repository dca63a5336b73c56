"""Test-set figures of every classifier of the CAN track and the student/teacher comparison."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch import nn
from torch_geometric.data import Data

from distillery.can.latency import measure_latency
from distillery.can.metrics import classification_metrics
from distillery.can.models.build import count_parameters
from distillery.train.torch_loop import predict_logits


def evaluate_model(model: nn.Module, graphs: list[Data], classes: Sequence[str],
                   device: torch.device, batch_size: int, latency_windows: int,
                   latency_repeats: int) -> dict[str, Any]:
    """Classification metrics, parameter count and latency of one model on one set."""
    logits = predict_logits(model, graphs, batch_size, device).numpy()
    labels = np.array([int(g.y) for g in graphs])
    latency = measure_latency(model, graphs, device, batch_size, latency_windows,
                              latency_repeats)
    return {
        **classification_metrics(logits, labels, classes),
        "params": count_parameters(model),
        "latency_batch1_ms": latency["batch1_ms"],
        "latency_batched_ms": latency["batched_ms"],
        "latency_batch_size": latency["batch_size"],
        "windows_per_s": 1e3 / latency["batched_ms"],
        "device": str(device),
    }


