"""Boltzmann inversion: potentials of mean force U(x) = -kT ln(p(x) / J(x)) from histograms.

The Jacobian J removes the volume factor of the coordinate: r^2 for distances (the spherical
shell), sin(theta) for angles; dihedrals are uniform in the absence of forces (J = 1).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

JACOBIANS = ("r2", "sin", "none")


@dataclass(frozen=True)
class Histogram:
    """Counts on uniform bins and the potential of mean force at the bin centres (NaN if empty)."""

    edges: np.ndarray
    counts: np.ndarray
    pmf: np.ndarray
    mean: float = float("nan")  # mean of the sampled values (the reference's mean bond length)

    @property
    def centres(self) -> np.ndarray:
        return 0.5 * (self.edges[1:] + self.edges[:-1])

    @property
    def sampled(self) -> np.ndarray:
        return self.counts > 0

    def offset_to(self, energy: np.ndarray, min_count: int = 1) -> float:
        """Count-weighted mean of PMF - energy (on the centres) over bins with enough samples;
        adding it lines a potential up with the PMF, whose zero is arbitrary."""
        use = self.counts >= min_count
        return float(np.average(self.pmf[use] - energy[use], weights=self.counts[use]))


def jacobian(x: np.ndarray, kind: str) -> np.ndarray:
    if kind == "r2":
        return x**2
    if kind == "sin":
        return np.sin(x)
    if kind == "none":
        return np.ones_like(x)
    raise ValueError(f"jacobian {kind!r} is not one of {JACOBIANS}")


def boltzmann_inversion(values: np.ndarray, bins: int, value_range: tuple[float, float],
                        kt: float, jacobian_kind: str) -> Histogram:
    """Histogram `values` and invert; the PMF is shifted so that its minimum is zero."""
    counts, edges = np.histogram(np.ravel(values), bins=bins, range=value_range)
    centres = 0.5 * (edges[1:] + edges[:-1])
    density = counts / max(counts.sum(), 1) / np.diff(edges)
    with np.errstate(divide="ignore", invalid="ignore"):
        pmf = -kt * np.log(density / jacobian(centres, jacobian_kind))
    pmf[(counts == 0) | ~np.isfinite(pmf)] = np.nan
    if np.isfinite(pmf).any():
        pmf -= np.nanmin(pmf)
    return Histogram(edges, counts, pmf, float(np.mean(values)) if np.size(values) else np.nan)
