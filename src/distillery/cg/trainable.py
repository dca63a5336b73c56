"""Prior parameters refined jointly with the delta network (`cg.priors.train`).

The parametric terms become trainable arrays kept physically valid by construction: a
harmonic term trains log k and x0 (k > 0), a Fourier dihedral its coefficients a and b, a
repulsion log sigma (sigma > 0; epsilon stays kT, since epsilon sigma^n is all a pure power
law sees). Spline tables stay fixed. Training starts from the fitted values: the delta
network learns the reference minus the fitted prior, and `RefinedPriorField` adds the
refined prior minus the fitted one to it, zero at the start.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from distillery.cg.energy import Priors, prior_energy
from distillery.cg.terms import FourierTerm, HarmonicTerm, RepulsionTerm
from distillery.potentials.model import ForceField, Params
from distillery.potentials.neighbours import Neighbours

PriorParams = dict[str, dict[str, dict[str, Any]]]


def prior_parameters(priors: Priors) -> PriorParams:
    """{kind: {class: {name: array}}} of every parametric term, in the trained variables."""
    out: PriorParams = {}
    for kind, terms in priors.terms.items():
        for name, term in terms.items():
            if isinstance(term, HarmonicTerm):
                raw = {"log_k": np.log(term.k), "x0": term.x0}
            elif isinstance(term, FourierTerm):
                raw = {"a": np.asarray(term.a), "b": np.asarray(term.b)}
            elif isinstance(term, RepulsionTerm):
                raw = {"log_sigma": np.log(term.sigma)}
            else:
                continue  # spline tables stay as fitted
            out.setdefault(kind, {})[name] = {k: np.asarray(v, np.float64)
                                              for k, v in raw.items()}
    return out


def with_parameters(priors: Priors, raw: Mapping[str, Mapping[str, Mapping[str, Any]]]
                    ) -> Priors:
    """`priors` with the terms named in `raw` (`prior_parameters`' layout) replaced; works on
    numpy values and on traced JAX arrays alike."""
    terms = {kind: dict(by_class) for kind, by_class in priors.terms.items()}
    for kind, by_class in raw.items():
        for name, p in by_class.items():
            old = terms[kind][name]
            if isinstance(old, HarmonicTerm):
                terms[kind][name] = HarmonicTerm(k=jnp.exp(p["log_k"]), x0=p["x0"])
            elif isinstance(old, FourierTerm):
                terms[kind][name] = FourierTerm(a=p["a"], b=p["b"])
            else:
                terms[kind][name] = RepulsionTerm(old.epsilon, jnp.exp(p["log_sigma"]),
                                                  old.exponent)
    return Priors(priors.topology, priors.kt, terms)


def concrete(priors: Priors) -> Priors:
    """Plain Python floats in every parametric term (for files and comparisons)."""
    terms: dict[str, dict[str, Any]] = {}
    for kind, by_class in priors.terms.items():
        for name, t in by_class.items():
            if isinstance(t, HarmonicTerm):
                t = HarmonicTerm(float(t.k), float(t.x0))
            elif isinstance(t, FourierTerm):
                t = FourierTerm(tuple(map(float, np.ravel(t.a))), tuple(map(float, np.ravel(t.b))))
            elif isinstance(t, RepulsionTerm):
                t = RepulsionTerm(float(t.epsilon), float(t.sigma), int(t.exponent))
            terms.setdefault(kind, {})[name] = t
    return Priors(priors.topology, priors.kt, terms)


class RefinedPriorField(ForceField):
    """The delta network plus (refined prior - fitted prior), trained on the reference minus
    the fitted prior: `params["net"]` is {"delta": the network's parameters, "prior": the
    prior's trainable variables}; the stats are the network's. Weight decay reaches the
    network only (`decay_mask`)."""

    def __init__(self, delta: ForceField, priors: Priors, start: np.ndarray) -> None:
        self.delta, self.priors = delta, priors
        self.settings, self.kind, self.module = delta.settings, delta.kind, delta.module
        self.initial = prior_parameters(priors)
        # the fitted parameters are part of the model: a checkpoint of another fit is not
        # resumed, and compiled loss functions are not shared between fits
        self.config = {**delta.config, "refined_priors": {
            kind: {name: {k: np.ravel(v).tolist() for k, v in p.items()}
                   for name, p in by_class.items()} for kind, by_class in self.initial.items()}}
        self.start = jnp.asarray(start)  # a real configuration for padding frames

    @property
    def cutoff(self) -> float:
        return self.delta.cutoff

    @property
    def max_z(self) -> int:
        return self.delta.max_z

    def fit_stats(self, frames: Any, energy: np.ndarray, forces: Any) -> dict[str, np.ndarray]:
        return self.delta.fit_stats(frames, energy, forces)

    def stats_shapes(self) -> dict[str, jax.ShapeDtypeStruct]:
        return self.delta.stats_shapes()

    def init(self, seed: int) -> Any:
        return {"delta": self.delta.init(seed),
                "prior": jax.tree.map(jnp.asarray, self.initial)}

    def decay_mask(self, net: Any) -> Any:
        """Weight decay on the network, never on the prior's parameters."""
        return {"delta": jax.tree.map(lambda _: True, net["delta"]),
                "prior": jax.tree.map(lambda _: False, net["prior"])}

    def energy(self, params: Params, positions: jnp.ndarray, numbers: jnp.ndarray,
               cell: jnp.ndarray, neighbours: Neighbours) -> jnp.ndarray:
        net = params["net"]
        network = self.delta.energy({"net": net["delta"], "stats": params["stats"]},
                                    positions, numbers, cell, neighbours)
        # padding frames (no atoms) hold zeros, where a prior is singular: evaluate a real
        # configuration there and drop it, so no NaN reaches the gradients
        real = jnp.any(numbers > 0)
        x = jnp.where(real, positions[: self.priors.topology.n_beads], self.start)
        change = (prior_energy(with_parameters(self.priors, net["prior"]), x)
                  - prior_energy(self.priors, x))
        return network + jnp.where(real, change, 0.0)

    def split(self, params: Params) -> tuple[Params, Priors]:
        """(the delta network's parameters, the refined priors) of trained parameters."""
        host = jax.tree.map(lambda v: np.asarray(v, np.float64), jax.device_get(
            params["net"]["prior"]))
        return ({"net": params["net"]["delta"], "stats": params["stats"]},
                concrete(with_parameters(self.priors, host)))
