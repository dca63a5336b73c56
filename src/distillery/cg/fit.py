"""Fit every prior term of a coarse-grained molecule from training frames."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from distillery.cg import geometry
from distillery.cg.boltzmann import Histogram, boltzmann_inversion
from distillery.cg.energy import Priors
from distillery.cg.fits import (
    fit_fourier,
    fit_harmonic,
    fit_repulsion,
    fit_spline,
)
from distillery.cg.settings import PriorFitSettings
from distillery.cg.terms import FourierTerm
from distillery.cg.topology import Topology

# margin around the sampled range of bonds and pair distances, in Å
_RANGE_PAD = 0.5


def internal_coordinates(positions: np.ndarray, topology: Topology) -> dict[str, np.ndarray]:
    """Bond lengths, angles, dihedrals and non-bonded distances of frames (n, n_beads, 3)."""
    return {
        "bond": geometry.bond_lengths(positions, topology.bonds),
        "angle": geometry.angles(positions, topology.angles),
        "dihedral": geometry.dihedrals(positions, topology.dihedrals),
        "pair": geometry.bond_lengths(positions, topology.pairs),
    }


def _padded_range(values: np.ndarray) -> tuple[float, float]:
    return max(float(values.min()) - _RANGE_PAD, 1e-3), float(values.max()) + _RANGE_PAD


def histograms(coords: Mapping[str, np.ndarray], kt: float,
               settings: PriorFitSettings) -> dict[str, Histogram]:
    """Boltzmann-inverted histograms of each coordinate kind with its Jacobian."""
    ranges = {"bond": _padded_range(coords["bond"]), "angle": (0.0, np.pi),
              "dihedral": (-np.pi, np.pi)}
    jacobians = {"bond": "r2", "angle": "sin", "dihedral": "none", "pair": "r2"}
    if coords["pair"].size:
        ranges["pair"] = _padded_range(coords["pair"])
    return {name: boltzmann_inversion(coords[name], getattr(settings.bins, name), ranges[name], kt,
                                      jacobians[name])
            for name in ranges if coords[name].size}


def fit_priors(positions: np.ndarray, topology: Topology, kt: float,
               settings: PriorFitSettings) -> tuple[Priors, dict[str, Histogram]]:
    """Fit the prior from training frames (n_frames, n_beads, 3) in Å at thermal energy kT (eV)."""
    coords = internal_coordinates(positions, topology)
    hists = histograms(coords, kt, settings)
    bond = fit_harmonic(hists["bond"], settings.min_count, "bond")
    angle = fit_harmonic(hists["angle"], settings.min_count, "angle")
    dihedral = (fit_fourier(hists["dihedral"], settings.dihedral_order, settings.min_count)
                if "dihedral" in hists else FourierTerm(a=(), b=()))
    repulsion = None
    if settings.repulsion.enabled and coords["pair"].size:
        repulsion = fit_repulsion(coords["pair"], kt, settings.repulsion.exponent,
                                  settings.repulsion.quantile, settings.repulsion.onset)
    if settings.fit == "spline":
        smooth, count = settings.spline_smoothing, settings.min_count
        bond = fit_spline(hists["bond"], bond, smooth, count, periodic=False)
        angle = fit_spline(hists["angle"], angle, smooth, count, periodic=False)
        if "dihedral" in hists:
            dihedral = fit_spline(hists["dihedral"], dihedral, smooth, count, periodic=True)
    return Priors(topology, kt, bond, angle, dihedral, repulsion), hists
