"""Build graph classifiers from their config block and save/load them with that block."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from torch import nn

from distillery.base_settings import validated
from distillery.can.models.gat import GATClassifier
from distillery.can.models.mlp import PooledMLP
from distillery.can.models.vgae import GraphVGAE
from distillery.can.settings import MODEL_ARCH, GATSettings, MLPSettings, VGAESettings
from distillery.errors import ConfigError, InputError, reason
from distillery.train.tensor_files import load_tensors, save_tensors

KINDS = {"gat": GATClassifier, "mlp": PooledMLP,
         # the auto-encoder has no classes: it scores windows
         "vgae": lambda in_dim, n_classes, mean, std, **options: GraphVGAE(in_dim, mean, std,
                                                                           **options)}
MODEL_FORMAT = "distillery-classifier"


def build_classifier(
    arch: GATSettings | MLPSettings | VGAESettings | Mapping[str, Any], in_dim: int,
    n_classes: int, mean: Sequence[float], std: Sequence[float],
) -> nn.Module:
    """A model of architecture `arch` (e.g. {kind: gat, hidden: 64, heads: 4, ...}): a
    classifier, or the VGAE (which ignores `n_classes`)."""
    if isinstance(arch, Mapping):
        arch = validated(MODEL_ARCH, dict(arch), f"classifier architecture {dict(arch)}")
    options = arch.as_dict()
    return KINDS[options.pop("kind")](in_dim, n_classes, mean, std, **options)


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def save_classifier(path: str | Path, model: nn.Module, arch: Mapping[str, Any],
                    info: Mapping[str, Any]) -> None:
    """A safetensors file: the weights (on CPU) and, as JSON metadata in its header, the
    architecture block, the input width and what describes the run (classes, device)."""
    metadata = {"format": MODEL_FORMAT, "arch": dict(arch), "in_dim": len(model.norm.mean),
                "info": dict(info)}
    save_tensors(path, model.state_dict(), metadata)


def load_classifier(path: str | Path) -> tuple[nn.Module, dict[str, Any]]:
    """The model in eval mode on CPU and its saved info; a pickle, a damaged or foreign file
    raises a one-line InputError naming the file."""
    expected = "a model written by a classifier training rule"
    fix = "rerun the training rule that writes it"
    state, meta = load_tensors(path, expected, fix)
    if not (meta.get("format") == MODEL_FORMAT and isinstance(meta.get("arch"), dict)
            and isinstance(meta.get("info"), dict) and "n_classes" in meta["info"]):
        raise InputError(path, "metadata", "no classifier description (format, arch, in_dim, "
                         "info.n_classes)", expected, fix=fix)
    try:
        model = build_classifier(meta["arch"], meta["in_dim"], meta["info"]["n_classes"],
                                 state["norm.mean"], state["norm.std"])
        model.load_state_dict(state)
    # a file whose weights or description do not fit together fails in many places
    except (ConfigError, KeyError, RuntimeError, TypeError, ValueError) as exc:
        raise InputError(path, "state_dict", f"weights that do not fit the described "
                         f"architecture ({reason(exc)})", expected, fix=fix) from None
    return model.eval(), meta["info"]
