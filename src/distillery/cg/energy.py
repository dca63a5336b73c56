"""The prior energy of bead configurations in JAX; forces are its negative gradient."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from distillery.cg import geometry
from distillery.cg.terms import (
    FourierTerm,
    HarmonicTerm,
    RepulsionTerm,
    SplineTerm,
    gather,
)
from distillery.cg.topology import Topology

BondedTerm = HarmonicTerm | FourierTerm | SplineTerm
Term = BondedTerm | RepulsionTerm
KINDS = ("bond", "angle", "dihedral", "pair")
_COORDINATE = {"bond": geometry.bond_lengths, "angle": geometry.angles,
               "dihedral": geometry.dihedrals, "pair": geometry.bond_lengths}


@dataclass(frozen=True)
class Priors:
    """Fitted prior: for each interaction kind (bond, angle, dihedral, pair), one term per
    class of bead types (`Topology.classes`); a kind without terms adds no energy."""

    topology: Topology
    kt: float
    terms: Mapping[str, Mapping[str, Term]]

    @property
    def kind(self) -> str:
        spline = any(isinstance(t, SplineTerm) for cls in self.terms.values()
                     for t in cls.values())
        return "spline" if spline else "parametric"

    def gathered(self, kind: str) -> Any:
        """The kind's terms as one term with a parameter array over its interactions."""
        names, index = self.topology.classes(kind)
        missing = set(names) - set(self.terms[kind])
        if missing:
            raise KeyError(f"{kind} classes {sorted(missing)} have no prior term")
        return gather([self.terms[kind][n] for n in names], index)

    def term_energies(self, positions: jnp.ndarray) -> dict[str, jnp.ndarray]:
        """Energy of each interaction kind (eV) for positions (..., n_beads, 3)."""
        out = {}
        for kind in KINDS:
            table = self.topology.interactions(kind)
            if not self.terms.get(kind) or not len(table):
                continue
            values = _COORDINATE[kind](positions, table, jnp)
            out[kind] = jnp.sum(self.gathered(kind).energy(values, jnp), axis=-1)
        return out


def prior_energy(priors: Priors, positions: jnp.ndarray) -> jnp.ndarray:
    """Total prior energy (eV) of positions (..., n_beads, 3) in Å."""
    return sum(priors.term_energies(positions).values(), jnp.zeros(positions.shape[:-2]))


def prior_energy_and_forces(priors: Priors,
                            positions: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Batched energies (n_frames,) and forces (n_frames, n_beads, 3), compiled once."""

    @jax.jit
    def run(x: jnp.ndarray) -> tuple[jnp.ndarray, jnp.ndarray]:
        energy, grad = jax.vmap(jax.value_and_grad(lambda y: prior_energy(priors, y)))(x)
        return energy, -grad

    energy, forces = run(jnp.asarray(positions))
    return np.asarray(energy, np.float64), np.asarray(forces, np.float64)
