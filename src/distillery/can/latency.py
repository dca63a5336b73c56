"""Inference latency per window: one window at a time, and whole batches."""

from __future__ import annotations

import statistics
import time
from typing import Any

import torch
from torch import nn
from torch_geometric.data import Batch, Data


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


@torch.no_grad()
def _median_seconds(model: nn.Module, batch: Batch | Data, device: torch.device,
                    repeats: int) -> float:
    model(batch)  # warm-up: first-call allocations and lazy initialisation
    times = []
    for _ in range(repeats):
        _sync(device)
        tic = time.perf_counter()
        model(batch)
        _sync(device)
        times.append(time.perf_counter() - tic)
    return statistics.median(times)


def measure_latency(model: nn.Module, graphs: list[Data], device: torch.device,
                    batch_size: int = 256, n_single: int = 50, repeats: int = 5) -> dict[str, Any]:
    """Median milliseconds per window at batch 1 (over `n_single` windows) and batched.

    Graphs are moved to the device beforehand: this measures the model, not the transfer.
    """
    model = model.to(device).eval()
    singles = [g.to(device) for g in graphs[:n_single]]
    batch1 = statistics.median(_median_seconds(model, g, device, repeats) for g in singles)
    batch = Batch.from_data_list(graphs[:batch_size]).to(device)
    batched = _median_seconds(model, batch, device, repeats) / batch.num_graphs
    return {"batch1_ms": 1e3 * batch1, "batched_ms": 1e3 * batched,
            "batch_size": batch.num_graphs, "device": device.type}
