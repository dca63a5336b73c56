"""Figures of the electrostatics evaluation: ESP and dipole parity, and the ESP error painted
on one frame's surface points."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np
from ase.data import covalent_radii
from ase.data.colors import jmol_colors
from matplotlib.figure import Figure

from distillery.data.electrostatics import KCAL_PER_MOL
from distillery.electrostatics.metrics import DEBYE
from distillery.io import atomic_path


# Figure objects without pyplot: no global state and no GUI backend in workflow jobs
def _save(fig: Figure, path: str | Path) -> None:
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format=Path(path).suffix.lstrip(".") or "png", dpi=120,
                    bbox_inches="tight")


def _parity(path: str | Path, reference: np.ndarray, predictions: Mapping[str, np.ndarray],
            label: str, error: str) -> None:
    """One panel per model: predicted against reference values, the diagonal dashed."""
    fig = Figure(figsize=(3.3 * len(predictions), 3.4))
    axes = fig.subplots(1, len(predictions), squeeze=False)[0]
    ref = reference.ravel()
    for ax, (name, values) in zip(axes, predictions.items(), strict=True):
        pred = values.ravel()
        few = len(ref) < 2000  # dipoles: a few points each, drawn large
        ax.scatter(ref, pred, s=10 if few else 2, alpha=0.6 if few else 0.3, linewidths=0)
        lo, hi = float(min(ref.min(), pred.min())), float(max(ref.max(), pred.max()))
        ax.plot([lo, hi], [lo, hi], "k--", lw=0.8)
        score = (np.sqrt(np.mean((pred - ref) ** 2)) if error == "RMSE"
                 else np.mean(np.linalg.norm((values - reference).reshape(-1, 3), axis=1)))
        ax.set_title(f"{name}\n{error} {score:.3g}", fontsize=9)
        ax.set_xlabel(f"reference {label}")
    axes[0].set_ylabel(f"predicted {label}")
    fig.suptitle("test split", y=1.04)
    _save(fig, path)


def esp_parity(path: str | Path, reference: np.ndarray,
               predictions: Mapping[str, np.ndarray]) -> None:
    """Predicted against reference ESP on every test grid point (kcal/mol/e), per model;
    ESP arrays in eV/e."""
    _parity(path, np.asarray(reference) / KCAL_PER_MOL,
            {n: np.asarray(p) / KCAL_PER_MOL for n, p in predictions.items()},
            "ESP (kcal/mol/e)", "RMSE")


def dipole_parity(path: str | Path, reference: np.ndarray,
                  predictions: Mapping[str, np.ndarray]) -> None:
    """Predicted against reference dipole components (D) of every test frame, per model
    (the title's MAE: mean length of the error vector); dipoles in e·Å."""
    _parity(path, np.asarray(reference) / DEBYE,
            {n: np.asarray(p) / DEBYE for n, p in predictions.items()},
            "dipole component (D)", "MAE")


def esp_error_surface(path: str | Path, numbers: np.ndarray, positions: np.ndarray,
                      grid: np.ndarray, reference: np.ndarray,
                      predictions: Mapping[str, np.ndarray], frame: int) -> None:
    """The ESP error (predicted - reference, kcal/mol/e) of each model painted on one frame's
    surface points (3D scatter, one shared colour scale saturating at the 98th percentile of
    the errors), the atoms drawn inside."""
    errors = {n: (np.asarray(p) - reference) / KCAL_PER_MOL for n, p in predictions.items()}
    # the 98th percentile: a few points near the atoms would wash out every other colour
    limit = float(np.percentile(np.abs(np.concatenate(list(errors.values()))), 98)) or 1.0
    centre, half = grid.mean(axis=0), float(np.abs(grid - grid.mean(axis=0)).max())
    fig = Figure(figsize=(3.2 * len(errors) + 1.0, 3.6))
    for k, (name, error) in enumerate(errors.items()):
        ax = fig.add_subplot(1, len(errors), k + 1, projection="3d")
        painted = ax.scatter(*grid.T, c=error, cmap="coolwarm", vmin=-limit, vmax=limit,
                             s=14, depthshade=False)
        ax.scatter(*positions.T, c=jmol_colors[numbers], s=120 * covalent_radii[numbers],
                   edgecolors="k", linewidths=0.5, depthshade=False)
        for axis, middle in zip("xyz", centre, strict=True):
            getattr(ax, f"set_{axis}lim")(middle - half, middle + half)
        ax.set_box_aspect((1, 1, 1), zoom=1.3)
        ax.set_title(f"{name}\nRMSE {np.sqrt(np.mean(error ** 2)):.3g}", fontsize=9)
        ax.set_axis_off()
    fig.colorbar(painted, ax=fig.axes, shrink=0.7,
                 label="ESP error, predicted - reference (kcal/mol/e)")
    fig.suptitle(f"test frame {frame}")
    _save(fig, path)
