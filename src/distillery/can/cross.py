"""Cross-dataset evaluation: models trained on one dataset score the test windows of another.

Every score is class-agnostic (how unlike normal traffic a window is), so the two datasets
may have different attack classes; thresholds come from the training dataset's normal
validation windows, as they would in a deployment that never saw the other data."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import nn
from torch_geometric.data import Data

from distillery.can.ids import ids_figures
from distillery.can.scores import anomaly_scores


def cross_figures(models: Mapping[str, nn.Module], source_val: list[Data],
                  target_test: list[Data], target_windows: pd.DataFrame,
                  target_classes: Sequence[str], fprs: Sequence[float], batch_size: int,
                  device: torch.device) -> dict[str, dict[str, Any]]:
    """IDS figures (`ids_figures`) of every model on the target's test windows."""
    val_labels = np.array([int(g.y) for g in source_val])
    test_labels = np.array([int(g.y) for g in target_test])
    return {name: ids_figures(anomaly_scores(model, source_val, batch_size, device), val_labels,
                              anomaly_scores(model, target_test, batch_size, device),
                              test_labels, target_windows, target_classes, fprs)
            for name, model in models.items()}
