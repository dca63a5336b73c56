"""Figures: fitted prior terms over their histograms, force parity per evaluation mode, and
simulated against reference distributions and free-energy surfaces."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from distillery.cg.boltzmann import Histogram
from distillery.io import atomic_path

_XLABELS = {"bond": "bond length (Å)", "angle": "angle (rad)", "dihedral": "dihedral (rad)",
            "pair": "non-bonded distance (Å)"}


def plot_fit(path: str | Path, name: str, hists: dict[str, Histogram],
             terms: dict[str, Any] | None, kt: float, reference: Any | None = None,
             align: bool = True) -> None:
    """One column per class of bead types: PMF points, the fitted term (and a `reference`
    term, e.g. the true potential of a one-class chain) in kT over the class's histogram.
    Curves are shifted onto the PMF when `align` (bonded terms); a repulsion is drawn as is;
    without `terms` (a kind left out of the prior) only the data is drawn."""
    fig, axes = plt.subplots(2, len(hists), figsize=(4.2 * len(hists), 5), squeeze=False,
                             gridspec_kw={"height_ratios": [3, 1]})
    for col, (cls, hist) in enumerate(hists.items()):
        ax, ax_counts = axes[0, col], axes[1, col]
        x = hist.centres
        fine = np.linspace(hist.edges[0], hist.edges[-1], 400)
        sampled = hist.sampled
        ax.plot(x[sampled], hist.pmf[sampled] / kt, "o", ms=3, color="0.3",
                label="-kT ln(p/J) (data)")
        curves = (((terms or {}).get(cls), "-", "fit"), (reference, "--", "reference"))
        for curve_term, style, label in curves:
            if curve_term is None:
                continue
            offset = hist.offset_to(curve_term.energy(x)) if align else 0.0
            ax.plot(fine, (curve_term.energy(fine) + offset) / kt, style, label=label)
        ax.set_ylim(-0.5, np.nanmax(hist.pmf) / kt + 1.0)
        ax.set_title(f"{name} {cls}" + ("" if terms else " (no prior term)"))
        ax_counts.bar(x, hist.counts, width=np.diff(hist.edges), color="0.7")
        ax_counts.set_xlim(hist.edges[0], hist.edges[-1])
        ax.set_xlim(hist.edges[0], hist.edges[-1])
        ax_counts.set_xlabel(_XLABELS.get(name, name))
    axes[0, 0].set_ylabel("U / kT")
    axes[0, 0].legend(fontsize=8)
    axes[1, 0].set_ylabel("count")
    _save(fig, path)


def _save(fig: Any, path: str | Path) -> None:
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format=Path(path).suffix.lstrip(".") or "svg")
    plt.close(fig)


def plot_distributions(path: str | Path, hists: dict[str, Any]) -> None:
    """Reference against simulated bond/angle/dihedral distributions, with JS divergences."""
    fig, axes = plt.subplots(1, len(hists), figsize=(4 * len(hists), 3.2))
    for ax, (name, h) in zip(np.atleast_1d(axes), hists.items(), strict=True):
        edges = h.edges[0]
        for counts, label in ((h.reference, "reference"), (h.simulated, "CG simulation")):
            density = counts / max(counts.sum(), 1) / np.diff(edges)
            ax.stairs(density, edges, label=label)
        ax.set_xlabel(_XLABELS[name])
        ax.set_title(f"{name}: JS = {h.divergence:.3g}")
    np.atleast_1d(axes)[0].set_ylabel("density")
    np.atleast_1d(axes)[0].legend(fontsize=8)
    _save(fig, path)


def plot_fes(path: str | Path, edges: tuple[np.ndarray, np.ndarray], names: tuple[str, str],
             panels: list[tuple[str, np.ndarray]]) -> None:
    """2-D free-energy surfaces (in kT) side by side, e.g. reference, prior-only and full
    model, each titled with its label (and JS divergence)."""
    fig, axes = plt.subplots(1, len(panels), figsize=(3.8 * len(panels) + 1, 3.8),
                             sharex=True, sharey=True, squeeze=False)
    x_edges, y_edges = edges
    top = np.nanmax([np.nanmax(f) for _, f in panels])
    for ax, (title, f) in zip(axes[0], panels, strict=True):
        mesh = ax.pcolormesh(x_edges, y_edges, f.T, vmin=0, vmax=top, cmap="viridis")
        ax.set_title(title, fontsize=9)
        ax.set_xlabel(names[0])
    axes[0, 0].set_ylabel(names[1])
    fig.colorbar(mesh, ax=list(axes[0]), label="F / kT")
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format=Path(path).suffix.lstrip(".") or "svg")
    plt.close(fig)


def plot_mode_parity(path: str | Path, forces: dict[str, np.ndarray],
                     reference: np.ndarray) -> None:
    """Predicted against reference force components for each evaluation mode."""
    fig, axes = plt.subplots(1, len(forces), figsize=(3.6 * len(forces), 3.4))
    ref = reference.ravel()
    lim = float(np.abs(ref).max()) * 1.1
    for ax, (mode, pred) in zip(np.atleast_1d(axes), forces.items(), strict=True):
        ax.plot(ref, np.ravel(pred), ".", ms=1, alpha=0.4)
        ax.plot([-lim, lim], [-lim, lim], "k--", lw=0.8)
        ax.set_xlim(-lim, lim)
        ax.set_ylim(-lim, lim)
        ax.set_title(mode)
        ax.set_xlabel("reference force (eV/Å)")
    np.atleast_1d(axes)[0].set_ylabel("predicted force (eV/Å)")
    _save(fig, path)


def plot_placeholder(path: str | Path, message: str) -> None:
    """A figure that says why a term has no plot (e.g. a molecule without dihedrals)."""
    fig, ax = plt.subplots(figsize=(5, 1.5))
    ax.axis("off")
    ax.text(0.5, 0.5, message, ha="center", va="center")
    _save(fig, path)
