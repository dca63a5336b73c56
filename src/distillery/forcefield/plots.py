"""Parity plots and error histograms for force-field predictions."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from distillery.io import atomic_path


# Figure objects without pyplot: no global state and no GUI backend in workflow jobs
def _save(fig: Figure, path: str | Path) -> None:
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format=Path(path).suffix.lstrip(".") or "png", dpi=120,
                    bbox_inches="tight")


def parity_plot(path: str | Path, title: str, energy_ref: np.ndarray, energy_pred: np.ndarray,
                force_ref: np.ndarray, force_pred: np.ndarray) -> None:
    """Energy per atom and force components, predicted against reference."""
    fig = Figure(figsize=(9, 4.2))
    axes = fig.subplots(1, 2)
    panels = ((energy_ref, energy_pred, "energy per atom (eV/atom)"),
              (force_ref.ravel(), force_pred.ravel(), "force component (eV/Å)"))
    for ax, (ref, pred, label) in zip(axes, panels, strict=True):
        ax.scatter(ref, pred, s=4, alpha=0.4, linewidths=0)
        lo, hi = float(min(ref.min(), pred.min())), float(max(ref.max(), pred.max()))
        ax.plot([lo, hi], [lo, hi], "k--", lw=0.8)
        ax.set_xlabel(f"reference {label}")
        ax.set_ylabel(f"predicted {label}")
    fig.suptitle(title)
    _save(fig, path)


def error_histogram(path: str | Path, title: str, force_ref: np.ndarray,
                    force_pred: np.ndarray) -> None:
    """Histogram of per-atom force error norms |F_pred - F_ref| (log counts)."""
    norm = np.linalg.norm(force_pred.reshape(-1, 3) - force_ref.reshape(-1, 3), axis=1)
    fig = Figure(figsize=(5, 3.6))
    ax = fig.subplots()
    ax.hist(norm, bins=60, log=True)
    for q in (90, 95):
        ax.axvline(np.percentile(norm, q), color="k", ls=":", lw=0.8)
    ax.set_xlabel("|F_pred - F_ref| (eV/Å); dotted: 90th, 95th percentile")
    ax.set_ylabel("atoms")
    ax.set_title(title)
    _save(fig, path)


def pareto_plot(path: str | Path, points: dict[str, tuple[float, float]], batch_size: int
                ) -> None:
    """Force MAE (eV/Å) against frames/s per model, both axes log; lower right is better."""
    fig = Figure(figsize=(5.5, 4.2))
    ax = fig.subplots()
    for k, (name, (speed, mae)) in enumerate(points.items()):
        ax.scatter([speed], [mae], color=f"C{k}", s=40)
        ax.annotate(name, (speed, mae), textcoords="offset points", xytext=(5, 5))
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel(f"frames/s at batch {batch_size}")
    ax.set_ylabel("force MAE vs reference (eV/Å)")
    ax.set_title("accuracy against speed")
    _save(fig, path)
