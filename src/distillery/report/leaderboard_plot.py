"""Headline metric against model size, one panel per dataset (from the leaderboard table)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import pandas as pd
from matplotlib.ticker import NullFormatter

from distillery.io import atomic_path

# the roles of every track's records: distillation (teacher, student, baseline) and the
# coarse-grained evaluation modes (full, prior, ablation)
ROLE_COLOURS = {"teacher": "tab:red", "student": "tab:blue", "baseline": "tab:grey",
                "full": "tab:green", "prior": "tab:purple", "ablation": "tab:orange"}


def plot_metric_vs_size(table: pd.DataFrame, path: str | Path) -> None:
    """Scatter of primary metric vs parameter count, coloured by role, one panel per dataset;
    points of a variant other than `default` are labelled `model [variant]`. A panel shows the
    primary metric of the dataset's first row: records of another headline (the CAN payload
    detector beside the classifiers) are not on its axis and are left out."""
    datasets = list(dict.fromkeys(table["dataset"])) or ["(no models yet)"]
    fig, axes = plt.subplots(1, len(datasets), figsize=(4.2 * len(datasets), 3.6), squeeze=False)
    for ax, dataset in zip(axes[0], datasets, strict=True):
        rows = table[table["dataset"] == dataset]
        rows = rows[rows["primary_metric"] == rows["primary_metric"].iloc[0]] if len(rows) \
            else rows
        sized = pd.to_numeric(rows["n_params"], errors="coerce").notna()
        for (_, row), has_size in zip(rows.iterrows(), sized, strict=True):
            colour = ROLE_COLOURS.get(row["role"], "black")
            label = row["model"] if row["variant"] == "default" else \
                f"{row['model']} [{row['variant']}]"
            if has_size:
                ax.scatter(row["n_params"], row["primary_value"], color=colour, s=40, zorder=3)
                ax.annotate(label, (row["n_params"], row["primary_value"]), fontsize=7,
                            xytext=(4, 3), textcoords="offset points")
            elif pd.notna(row["primary_value"]):
                # no parameter count (e.g. the fitted CG prior): a reference level instead
                ax.axhline(row["primary_value"], color=colour, ls="--", lw=1)
                ax.annotate(label, (0.01, row["primary_value"]), fontsize=7, xytext=(0, 3),
                            textcoords="offset points", xycoords=("axes fraction", "data"))
        if sized.any():
            ax.set_xscale("log")
            ax.xaxis.set_minor_formatter(NullFormatter())  # minor labels overlap on short spans
        ax.set_title(dataset)
        ax.set_xlabel("parameters")
        ax.set_ylabel(_axis_label(rows))
        ax.grid(alpha=0.3)
    handles = [plt.Line2D([], [], marker="o", ls="", color=c, label=r)
               for r, c in ROLE_COLOURS.items() if r in set(table.get("role", []))]
    if handles:
        fig.legend(handles=handles, loc="upper right", fontsize=8)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format=Path(path).suffix.lstrip(".") or "svg")
    plt.close(fig)


def _axis_label(rows: pd.DataFrame) -> str:
    """`force_mae [eV/Å] (lower is better)` from the dataset's first row."""
    if rows.empty:
        return "primary metric"
    first = rows.iloc[0]
    unit = f" [{first['primary_unit']}]" if first["primary_unit"] else ""
    better = "higher" if first["direction"] == "maximize" else "lower"
    return f"{first['primary_metric']}{unit} ({better} is better)"
