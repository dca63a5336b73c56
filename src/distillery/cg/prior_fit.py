"""Fit every prior term of a coarse-grained molecule from training frames, one parameter set
per class of bead types (a chain of identical beads has one class per kind)."""

from __future__ import annotations

import numpy as np

from distillery.cg import geometry
from distillery.cg.boltzmann import Histogram, boltzmann_inversion
from distillery.cg.energy import Priors, Term
from distillery.cg.settings import PriorFitSettings
from distillery.cg.term_fits import (
    fit_fourier,
    fit_harmonic,
    fit_repulsion,
    fit_spline,
)
from distillery.cg.topology import Topology

_JACOBIANS = {"bond": "r2", "angle": "sin", "dihedral": "none", "pair": "r2"}
_FIXED_RANGES = {"angle": (0.0, np.pi), "dihedral": (-np.pi, np.pi)}


def internal_coordinates(positions: np.ndarray, topology: Topology) -> dict[str, np.ndarray]:
    """Bond lengths, angles, dihedrals and non-bonded distances of frames (n, n_beads, 3)."""
    return {
        "bond": geometry.bond_lengths(positions, topology.bonds),
        "angle": geometry.angles(positions, topology.angles),
        "dihedral": geometry.dihedrals(positions, topology.dihedrals),
        "pair": geometry.bond_lengths(positions, topology.pairs),
    }


def _padded_range(values: np.ndarray) -> tuple[float, float]:
    # a quarter of the sampled spread on each side: room for the fit's tails, and bins fine
    # enough for stiff bonds whatever their length
    lo, hi = float(values.min()), float(values.max())
    pad = 0.25 * (hi - lo) + 1e-3
    return max(lo - pad, 1e-3), hi + pad


def class_histograms(positions: np.ndarray, topology: Topology, kt: float,
                     settings: PriorFitSettings) -> dict[str, dict[str, Histogram]]:
    """Boltzmann-inverted histograms per kind and class ({"bond": {"C-N": ...}, ...})."""
    coords = internal_coordinates(positions, topology)
    out: dict[str, dict[str, Histogram]] = {}
    for kind, values in coords.items():
        if not values.size:
            continue
        names, index = topology.classes(kind)
        out[kind] = {}
        for c, name in enumerate(names):
            sample = values[:, index == c]
            value_range = _FIXED_RANGES.get(kind) or _padded_range(sample)
            out[kind][name] = boltzmann_inversion(sample, getattr(settings.bins, kind),
                                                  value_range, kt, _JACOBIANS[kind])
    return out


def _fit_term(kind: str, name: str, hist: Histogram, sample: np.ndarray, kt: float,
              settings: PriorFitSettings) -> Term:
    label = f"{kind} {name}"
    count = settings.min_count
    if kind == "pair":
        rep = settings.repulsion
        return fit_repulsion(sample, kt, rep.exponent, rep.quantile, rep.onset)
    if kind == "dihedral":
        term = fit_fourier(hist, settings.dihedral_order, count, label, slack=kt)
    else:
        term = fit_harmonic(hist, count, label)
    if settings.fit == "spline":
        term = fit_spline(hist, term, settings.spline_smoothing, count,
                          periodic=kind == "dihedral")
    return term


def fit_priors(positions: np.ndarray, topology: Topology, kt: float, settings: PriorFitSettings
               ) -> tuple[Priors, dict[str, dict[str, Histogram]]]:
    """Fit the prior from training frames (n_frames, n_beads, 3) in Å at thermal energy kT
    (eV): each kind in `settings.terms` gets one term per class of bead types."""
    hists = class_histograms(positions, topology, kt, settings)
    coords = internal_coordinates(positions, topology)
    terms: dict[str, dict[str, Term]] = {}
    for kind in settings.terms:
        if kind not in hists:
            continue
        _, index = topology.classes(kind)
        terms[kind] = {name: _fit_term(kind, name, hist, coords[kind][:, index == c], kt,
                                       settings)
                       for c, (name, hist) in enumerate(hists[kind].items())}
    return Priors(topology, kt, terms), hists
