"""True potential terms of generated reference data (the generator's `*_truth.json`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from distillery.cg.boltzmann import Histogram
from distillery.cg.energy import Priors
from distillery.cg.terms import FourierTerm, HarmonicTerm, RepulsionTerm
from distillery.errors import InputError
from distillery.io import read_json


def reference_terms(truth: dict[str, Any], order: int,
                    source: str | Path = "truth") -> dict[str, Any]:
    """Terms in the prior conventions: k (1 + cos(n phi - delta)) becomes Fourier coefficients
    a_n = k cos(delta), b_n = -k sin(delta) (the constant k is an irrelevant offset): the
    generator measures phi with the opposite sign of the IUPAC dihedral the priors use."""
    try:
        dih = truth["dihedral"]
        n = int(dih["n"])
        a, b = np.zeros(max(order, n)), np.zeros(max(order, n))
        a[n - 1] = dih["k"] * np.cos(dih["delta"])
        b[n - 1] = -dih["k"] * np.sin(dih["delta"])
        rep = truth["repulsion"]
        return {
            "bond": HarmonicTerm(truth["bond"]["k"], truth["bond"]["r0"]),
            "angle": HarmonicTerm(truth["angle"]["k"], truth["angle"]["theta0"]),
            "dihedral": FourierTerm(tuple(a), tuple(b)),
            "pair": RepulsionTerm(rep["epsilon"], rep["sigma"], rep["exponent"]),
        }
    except (KeyError, TypeError) as exc:
        raise InputError(source, str(exc), "missing", "bond, angle, dihedral and repulsion "
                         "parameters as written by the cg_chain generator") from exc


def read_reference_terms(path: str | Path, order: int) -> dict[str, Any]:
    return reference_terms(read_json(path), order, path)


def _profile_deviation(fitted: Any, true: Any, hist: Histogram, kt: float) -> float:
    """Count-weighted RMS difference (in kT) of two potentials over the sampled bins, after
    removing their mean difference (potentials are defined up to a constant)."""
    use = hist.sampled
    x, weights = hist.centres[use], hist.counts[use]
    diff = np.asarray(fitted.energy(x)) - np.asarray(true.energy(x))
    diff -= np.average(diff, weights=weights)
    return float(np.sqrt(np.average(diff**2, weights=weights)) / kt)


def parameter_recovery(priors: Priors, hists: dict[str, dict[str, Histogram]],
                       terms: dict[str, Any]) -> dict[str, dict[str, float]]:
    """Fitted against true parameters (harmonic k and x0 with relative errors) and the
    profile deviation of every bonded term over its sampled range. The generator's chain has
    one bead type, so each kind has one class."""
    out: dict[str, dict[str, float]] = {}
    for name in ("bond", "angle", "dihedral"):
        if len(priors.terms.get(name, {})) != 1:
            raise InputError("priors", name, f"classes {sorted(priors.terms.get(name, {}))}",
                             "one class per kind, as for the generator's homogeneous chain")
        (cls, fitted), = priors.terms[name].items()
        true = terms[name]
        row: dict[str, float] = {}
        if isinstance(fitted, HarmonicTerm):
            row = {"k": fitted.k, "k_true": true.k, "k_rel_error": fitted.k / true.k - 1.0,
                   "x0": fitted.x0, "x0_true": true.x0,
                   "x0_rel_error": fitted.x0 / true.x0 - 1.0}
        if name in hists:
            row["profile_rms_kT"] = _profile_deviation(fitted, true, hists[name][cls],
                                                       priors.kt)
        out[name] = row
    return out
