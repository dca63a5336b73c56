"""Learning curves from the per-epoch tables the training rules write (train vs val per epoch).

A per-epoch table is any CSV or Parquet file with an `epoch` column and at least one column
named `train_<x>`/`val_<x>` (or `<x>_train`/`<x>_val`); each quantity `<x>` gets a panel with
its train and val curves, so every model's table is found without knowing its path.
"""

from __future__ import annotations

import re
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import pandas as pd

from distillery.io import atomic_path

_SPLITS = "train|val|valid|validation"
_SPLIT = re.compile(rf"^(?:(?P<pre>{_SPLITS})_(?P<a>.+)|(?P<b>.+)_(?P<post>{_SPLITS}))$")


def curve_columns(columns: list[str]) -> dict[str, dict[str, str]]:
    """{quantity: {"train": column, "val": column}} for the split-named columns."""
    curves: dict[str, dict[str, str]] = {}
    for column in columns:
        match = _SPLIT.match(column)
        if match is None:
            continue
        split = match.group("pre") or match.group("post")
        quantity = match.group("a") or match.group("b")
        curves.setdefault(quantity, {})["train" if split == "train" else "val"] = column
    return curves


def _read_table(path: Path) -> pd.DataFrame | None:
    try:
        if path.suffix == ".parquet":
            return pd.read_parquet(path)
        return pd.read_csv(path, nrows=100_000)
    except (ValueError, OSError, pd.errors.ParserError):
        return None  # not a table we can read: it is not a per-epoch table either


def find_epoch_tables(root: str | Path) -> dict[str, pd.DataFrame]:
    """{path relative to root: table} of every per-epoch table below `root`."""
    found = {}
    root = Path(root)
    for path in sorted([*root.glob("**/*.csv"), *root.glob("**/*.parquet")]):
        if "data" in path.relative_to(root).parts[:1]:
            continue  # the ingested frames: large and never per-epoch
        table = _read_table(path)
        if table is not None and "epoch" in table.columns and curve_columns(list(table.columns)):
            found[str(path.relative_to(root))] = table
    return found


def plot_learning_curves(tables: dict[str, pd.DataFrame], path: str | Path, title: str) -> None:
    """One row of panels per table, one panel per quantity, train solid and val dashed."""
    rows = [(name, table, curve_columns(list(table.columns))) for name, table in tables.items()]
    n_cols = max([len(curves) for _, _, curves in rows], default=1)
    n_rows = max(len(rows), 1)
    fig, axes = plt.subplots(n_rows, n_cols, figsize=(3.8 * n_cols, 2.8 * n_rows), squeeze=False)
    if not rows:
        axes[0, 0].text(0.5, 0.5, "no per-epoch tables found", ha="center", va="center")
        axes[0, 0].set_axis_off()
    for r, (name, table, curves) in enumerate(rows):
        for c, (quantity, columns) in enumerate(sorted(curves.items())):
            ax = axes[r, c]
            for split, style in (("train", "-"), ("val", "--")):
                if split in columns:
                    ax.plot(table["epoch"], table[columns[split]], style, label=split)
            values = table[list(columns.values())].to_numpy(dtype=float)
            if (values > 0).all() and values.max() / max(values.min(), 1e-30) > 50:
                ax.set_yscale("log")  # losses spanning decades read better on a log axis
            ax.set_title(f"{name}\n{quantity}", fontsize=8)
            ax.set_xlabel("epoch")
            ax.legend(fontsize=7)
            ax.grid(alpha=0.3)
        for c in range(len(curves), n_cols):
            axes[r, c].set_axis_off()
    fig.suptitle(title)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format=Path(path).suffix.lstrip(".") or "svg")
    plt.close(fig)
