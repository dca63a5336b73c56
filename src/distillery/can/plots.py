"""Confusion-matrix figure of the evaluated classifiers, side by side."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from distillery.io import atomic_path


def plot_confusion(path: str | Path, matrices: Mapping[str, np.ndarray],
                   classes: Sequence[str]) -> None:
    """One row-normalised panel per model, with the raw counts written in the cells."""
    # a bare Figure needs no GUI backend (rules run headless)
    fig = Figure(figsize=(3.6 * len(matrices), 3.4))
    axes = fig.subplots(1, len(matrices), squeeze=False)
    for ax, (name, counts) in zip(axes[0], matrices.items(), strict=True):
        counts = np.asarray(counts)
        rates = counts / np.maximum(counts.sum(1, keepdims=True), 1)
        ax.imshow(rates, vmin=0, vmax=1, cmap="Blues")
        for i, j in np.ndindex(counts.shape):
            ax.text(j, i, str(counts[i, j]), ha="center", va="center",
                    color="white" if rates[i, j] > 0.5 else "black", fontsize=8)
        ax.set_xticks(range(len(classes)), classes, rotation=45, ha="right", fontsize=8)
        ax.set_yticks(range(len(classes)), classes, fontsize=8)
        ax.set_title(name, fontsize=9)
        ax.set_xlabel("predicted")
    axes[0][0].set_ylabel("true")
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format=Path(path).suffix.lstrip(".") or "svg")
