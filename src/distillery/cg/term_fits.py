"""Fits of prior terms to Boltzmann-inverted histograms (weighted by counts) or to raw data.

Bins are weighted by sqrt(count): the standard error of -kT ln(count) falls as 1/sqrt(count),
so sparsely sampled tails do not dominate the fit.
"""

from __future__ import annotations

import numpy as np
from scipy.ndimage import gaussian_filter1d
from scipy.optimize import minimize

from distillery.cg.boltzmann import Histogram
from distillery.cg.terms import FourierTerm, HarmonicTerm, RepulsionTerm, SplineTerm
from distillery.errors import DistilleryError


class FitError(DistilleryError):
    """A prior term could not be fitted from the data."""


def _fit_bins(hist: Histogram, min_count: int, name: str) -> np.ndarray:
    use = hist.counts >= min_count
    if use.sum() < 3:
        raise FitError(f"{name}: only {int(use.sum())} histogram bins hold >= {min_count} "
                       "samples; need at least 3 (use fewer bins or more frames)")
    return use


def fit_harmonic(hist: Histogram, min_count: int = 5, name: str = "harmonic") -> HarmonicTerm:
    """Least-squares parabola U = k/2 (x - x0)^2 + c through the PMF."""
    use = _fit_bins(hist, min_count, name)
    curvature, slope, _ = np.polyfit(hist.centres[use], hist.pmf[use], 2,
                                     w=np.sqrt(hist.counts[use]))
    if curvature <= 0:
        raise FitError(f"{name}: the potential of mean force is not confining "
                       f"(curvature {curvature:.3g}); a harmonic prior does not fit")
    return HarmonicTerm(k=2.0 * curvature, x0=-slope / (2.0 * curvature))


def fourier_basis(phi: np.ndarray, order: int) -> np.ndarray:
    n = np.arange(1, order + 1)
    return np.concatenate([np.cos(phi[:, None] * n), np.sin(phi[:, None] * n)], axis=1)


def fit_fourier(hist: Histogram, order: int, min_count: int = 5, name: str = "dihedral",
                slack: float = 0.0) -> FourierTerm:
    """Least squares of U = c + sum_n a_n cos(n phi) + b_n sin(n phi) through the sampled
    bins, constrained to stay at or above the highest sampled PMF less `slack` (kT in the
    prior fit: the statistical noise of the least sampled bins) on every bin that was not
    sampled.

    Without the constraint nothing holds the series up where the data never went: a narrow
    well (a planar amide torsion sampled over 60 degrees) fitted by a few harmonics comes with
    wells elsewhere on the circle that are tens of eV deeper than anything sampled, and a
    simulation falls into them. A bin with fewer than `min_count` samples lies at least as
    high as the least populated bin used, so the constraint only states what the histogram
    says."""
    use = _fit_bins(hist, min_count, name)
    if use.sum() < 2 * order + 1:
        raise FitError(f"{name}: {int(use.sum())} sampled bins cannot fix a Fourier series "
                       f"of order {order}; lower cg.dihedral_order")
    design = np.concatenate([np.ones((len(use), 1)), fourier_basis(hist.centres, order)],
                            axis=1)
    w = np.sqrt(hist.counts[use])
    a, y = design[use] * w[:, None], hist.pmf[use] * w
    coef, *_ = np.linalg.lstsq(a, y, rcond=None)
    ceiling = float(np.max(hist.pmf[use])) - slack
    unsampled = design[~use]
    if len(unsampled) and np.min(unsampled @ coef) < ceiling:
        # both c and the shape move: the offset c carries no energy, the shape must clear the
        # ceiling relative to the sampled well
        result = minimize(lambda c: float(np.sum((a @ c - y) ** 2)), coef,
                          jac=lambda c: 2.0 * a.T @ (a @ c - y), method="SLSQP",
                          constraints=[{"type": "ineq", "fun": lambda c: unsampled @ c - ceiling,
                                        "jac": lambda c: unsampled}],
                          options={"maxiter": 500, "ftol": 1e-12})
        if not result.success or np.min(unsampled @ result.x) < ceiling - 1e-6 * (1 + ceiling):
            raise FitError(f"{name}: no Fourier series of order {order} stays above the "
                           f"sampled PMF where the data never went ({result.message})")
        coef = result.x
    return FourierTerm(a=tuple(coef[1 : order + 1]), b=tuple(coef[order + 1 :]))


def fit_repulsion(distances: np.ndarray, kt: float, exponent: int, quantile: float,
                  onset: float) -> RepulsionTerm:
    """Excluded volume epsilon (sigma / r)^n with epsilon = kT and sigma = `onset` times the
    closest approach seen (the `quantile` of non-bonded distances): the wall reaches kT only
    where the data never goes, so it keeps simulations from overlapping without biasing the
    sampled region (pair distances along a chain reflect the bonded terms, not repulsion)."""
    if distances.size == 0:
        raise FitError("repulsion: no non-bonded pairs beyond the exclusions")
    closest = float(np.quantile(distances, quantile))
    return RepulsionTerm(epsilon=kt, sigma=onset * closest, exponent=exponent)


def fit_spline(hist: Histogram, fallback: HarmonicTerm | FourierTerm, smoothing: float,
               min_count: int, periodic: bool) -> SplineTerm:
    """Smoothed PMF on the bin centres; bins with fewer than `min_count` samples take the
    parametric `fallback` (which also continues a non-periodic spline beyond the grid)."""
    x = hist.centres
    sampled = hist.counts >= min_count
    fallback_values = fallback.energy(x)
    # align the fallback with the PMF where both exist so the filled bins join smoothly
    offset = hist.offset_to(fallback_values, min_count)
    values = np.where(sampled, hist.pmf, fallback_values + offset)
    mode = "wrap" if periodic else "nearest"
    if smoothing > 0:
        values = gaussian_filter1d(values, smoothing, mode=mode)
    step = float(x[1] - x[0])
    if periodic:
        slopes = (np.roll(values, -1) - np.roll(values, 1)) / (2 * step)
    else:
        slopes = np.gradient(values, step)
    tail = None if periodic else fallback
    return SplineTerm(float(x[0]), step, values - values.min(), slopes, periodic, tail)
