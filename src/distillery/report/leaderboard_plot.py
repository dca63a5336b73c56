"""Headline metric against model size, one panel per dataset (from the leaderboard table)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import pandas as pd

from distillery.io import atomic_path

ROLE_COLOURS = {"teacher": "tab:red", "student": "tab:blue", "baseline": "tab:grey",
                "model": "tab:green", "ablation": "tab:orange"}


def plot_metric_vs_size(table: pd.DataFrame, path: str | Path) -> None:
    """Scatter of primary metric vs parameter count, coloured by role, one panel per dataset."""
    datasets = list(dict.fromkeys(table["dataset"])) or ["(no models yet)"]
    fig, axes = plt.subplots(1, len(datasets), figsize=(4.2 * len(datasets), 3.6), squeeze=False)
    for ax, dataset in zip(axes[0], datasets, strict=True):
        rows = table[table["dataset"] == dataset]
        for _, row in rows.iterrows():
            colour = ROLE_COLOURS.get(row["role"], "black")
            ax.scatter(row["params"], row["primary_value"], color=colour, s=40, zorder=3)
            ax.annotate(row["model"], (row["params"], row["primary_value"]), fontsize=7,
                        xytext=(4, 3), textcoords="offset points")
        if rows["params"].notna().any():
            ax.set_xscale("log")
        metric = rows["primary_metric"].iloc[0] if len(rows) else ""
        better = "higher" if len(rows) and rows["higher_is_better"].iloc[0] else "lower"
        ax.set_title(dataset)
        ax.set_xlabel("parameters")
        ax.set_ylabel(f"{metric} ({better} is better)" if metric else "primary metric")
        ax.grid(alpha=0.3)
    handles = [plt.Line2D([], [], marker="o", ls="", color=c, label=r)
               for r, c in ROLE_COLOURS.items() if r in set(table.get("role", []))]
    if handles:
        fig.legend(handles=handles, loc="upper right", fontsize=8)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format=Path(path).suffix.lstrip(".") or "svg")
    plt.close(fig)
