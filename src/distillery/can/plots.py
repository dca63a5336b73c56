"""Figures of the CAN track: confusion matrices side by side, detection rates per attack."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
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


def plot_detection(path: str | Path, table: pd.DataFrame, fpr: float) -> None:
    """Detection rate at false-positive rate `fpr`: one row per model, one column per attack
    (held-out attacks marked unseen), the rate written in each cell."""
    column = f"detection_at_fpr_{fpr}"
    attacks = list(dict.fromkeys(table["attack"]))
    models = list(dict.fromkeys(table["model"]))
    grid = (table.pivot(index="model", columns="attack", values=column)
            .reindex(index=models, columns=attacks).to_numpy(dtype=float))
    unseen = set(table.loc[table["unseen"], "attack"])
    fig = Figure(figsize=(1.2 * len(attacks) + 2.5, 0.45 * len(models) + 1.6))
    ax = fig.subplots()
    ax.imshow(grid, vmin=0, vmax=1, cmap="Greens", aspect="auto")
    for i, j in np.ndindex(grid.shape):
        ax.text(j, i, "" if np.isnan(grid[i, j]) else f"{grid[i, j]:.2f}", ha="center",
                va="center", color="white" if grid[i, j] > 0.6 else "black", fontsize=8)
    ax.set_xticks(range(len(attacks)),
                  [f"{a}\n(unseen)" if a in unseen else a for a in attacks], fontsize=8)
    ax.set_yticks(range(len(models)), models, fontsize=8)
    ax.set_title(f"detection rate at {fpr:g} false-positive rate", fontsize=9)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format=Path(path).suffix.lstrip(".") or "svg")
