"""Build graph classifiers from their config block and save/load them with that block."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn

from distillery.can.models.files import read_torch_file
from distillery.can.models.gat import GATClassifier
from distillery.can.models.mlp import PooledMLP
from distillery.errors import ConfigError
from distillery.io import atomic_path

KINDS = {"gat": GATClassifier, "mlp": PooledMLP}


def build_classifier(
    arch: Mapping[str, Any], in_dim: int, n_classes: int, mean: Sequence[float],
    std: Sequence[float],
) -> nn.Module:
    """`arch` is e.g. {kind: gat, hidden: 64, heads: 4, layers: 3, jk: cat} or {kind: mlp, ...}."""
    options = dict(arch)
    kind = options.pop("kind", None)
    if kind not in KINDS:
        raise ConfigError(f"classifier architecture kind: found {kind!r}, "
                          f"expected one of {sorted(KINDS)}")
    try:
        return KINDS[kind](in_dim, n_classes, mean, std, **options)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"classifier architecture {dict(arch)}: {exc}") from None


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def save_classifier(path: str | Path, model: nn.Module, arch: Mapping[str, Any],
                    info: Mapping[str, Any]) -> None:
    """Weights (on CPU), the architecture block and what describes the run (classes, device)."""
    n_features = len(model.norm.mean)
    payload = {"arch": dict(arch), "in_dim": n_features, "info": dict(info),
               "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()}}
    with atomic_path(path) as tmp:
        torch.save(payload, tmp)


def load_classifier(path: str | Path) -> tuple[nn.Module, dict[str, Any]]:
    """The model in eval mode on CPU and its saved info."""
    payload = read_torch_file(path, "a model written by a classifier training rule",
                              fix="rerun the training rule that writes it")
    state = payload["state_dict"]
    model = build_classifier(payload["arch"], payload["in_dim"], payload["info"]["n_classes"],
                             state["norm.mean"], state["norm.std"])
    model.load_state_dict(state)
    return model.eval(), payload["info"]
