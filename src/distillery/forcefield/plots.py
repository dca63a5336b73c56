"""Parity plots, error histograms and the accuracy-speed Pareto figure of force fields."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from distillery.forcefield.pareto import Points, pareto_front
from distillery.io import atomic_path


# Figure objects without pyplot: no global state and no GUI backend in workflow jobs
def _save(fig: Figure, path: str | Path) -> None:
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format=Path(path).suffix.lstrip(".") or "png", dpi=120,
                    bbox_inches="tight")


def parity_plot(path: str | Path, energy_ref: np.ndarray, force_ref: np.ndarray,
                predictions: Mapping[str, tuple[np.ndarray, np.ndarray]]) -> None:
    """Energy per atom and force components, predicted against reference: one row per model
    (`predictions`: {model: (energy per atom, forces)}), one figure for every model."""
    fig = Figure(figsize=(9, 3.6 * len(predictions)))
    for row, (name, (energy, forces)) in zip(fig.subplots(len(predictions), 2, squeeze=False),
                                             predictions.items(), strict=True):
        panels = ((energy_ref, energy, "energy per atom (eV/atom)"),
                  (force_ref.ravel(), forces.ravel(), "force component (eV/Å)"))
        for ax, (ref, pred, label) in zip(row, panels, strict=True):
            ax.scatter(ref, pred, s=4, alpha=0.4, linewidths=0)
            lo, hi = float(min(ref.min(), pred.min())), float(max(ref.max(), pred.max()))
            ax.plot([lo, hi], [lo, hi], "k--", lw=0.8)
            ax.set_xlabel(f"reference {label}")
            ax.set_ylabel(f"{name}: predicted")
    fig.suptitle("test split")
    _save(fig, path)


def error_histogram(path: str | Path, force_ref: np.ndarray,
                    predictions: Mapping[str, np.ndarray]) -> None:
    """Histograms of per-atom force error norms |F_pred - F_ref| (log counts), one step
    curve per model on shared bins, its 95th percentile dotted."""
    norms = {name: np.linalg.norm(forces.reshape(-1, 3) - force_ref.reshape(-1, 3), axis=1)
             for name, forces in predictions.items()}
    bins = np.linspace(0.0, max(float(n.max()) for n in norms.values()) or 1.0, 61)
    fig = Figure(figsize=(6, 4))
    ax = fig.subplots()
    for k, (name, norm) in enumerate(norms.items()):
        p95 = float(np.percentile(norm, 95))
        ax.hist(norm, bins=bins, log=True, histtype="step", color=f"C{k}",
                label=f"{name} (95th pct. {p95:.3g})")
        ax.axvline(p95, color=f"C{k}", ls=":", lw=0.8)
    ax.set_xlabel("|F_pred - F_ref| (eV/Å)")
    ax.set_ylabel("atoms")
    ax.set_title("force errors, test split")
    ax.legend(fontsize=8)
    _save(fig, path)


def pareto_plot(path: str | Path, points: Points, x_label: str) -> None:
    """Force MAE (eV/Å) against frames/s (`x_label`: how they were timed) per
    model, both axes log, every model a labelled point and the Pareto front ringed and dashed;
    lower right is better. A model without a positive speed and error (a teacher that is the
    reference has zero error) cannot sit on log axes: it is named in a note instead."""
    fig = Figure(figsize=(5.5, 4.2))
    ax = fig.subplots()
    drawn = {n: (s, e) for n, (s, e) in points.items()
             if s is not None and e is not None and min(s, e) > 0}
    for k, (name, (speed, mae)) in enumerate(points.items()):
        if name in drawn:
            ax.scatter([speed], [mae], color=f"C{k}", s=40)
            ax.annotate(name, (speed, mae), textcoords="offset points", xytext=(5, 5))
    front = [drawn[n] for n in pareto_front(points) if n in drawn]
    if front:
        # front points ringed, so a front of one model shows too
        ax.plot(*zip(*front, strict=True), "k--", lw=0.8, marker="o", markersize=12,
                markerfacecolor="none", label="Pareto front")
        ax.legend(loc="best", fontsize=8)
    left_out = [n for n in points if n not in drawn]
    if left_out:
        ax.text(0.02, 0.02, f"not drawn (zero or no value): {', '.join(left_out)}",
                transform=ax.transAxes, fontsize=7)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel(x_label)
    ax.set_ylabel("force MAE vs reference (eV/Å)")
    ax.set_title("accuracy against speed")
    _save(fig, path)
