"""The prior energy of bead configurations in JAX; forces are its negative gradient."""

from __future__ import annotations

from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np

from distillery.cg import geometry
from distillery.cg.terms import (
    FourierTerm,
    HarmonicTerm,
    RepulsionTerm,
    SplineTerm,
)
from distillery.cg.topology import Topology

BondedTerm = HarmonicTerm | FourierTerm | SplineTerm


@dataclass(frozen=True)
class Priors:
    """Fitted prior: one term per interaction kind, shared by all interactions of that kind."""

    topology: Topology
    kt: float
    bond: BondedTerm
    angle: BondedTerm
    dihedral: BondedTerm
    repulsion: RepulsionTerm | None

    @property
    def kind(self) -> str:
        bonded = (self.bond, self.angle, self.dihedral)
        return "spline" if any(isinstance(t, SplineTerm) for t in bonded) else "parametric"

    def term_energies(self, positions: jnp.ndarray) -> dict[str, jnp.ndarray]:
        """Energy of each interaction kind (eV) for positions (..., n_beads, 3)."""
        top = self.topology
        out = {
            "bond": jnp.sum(self.bond.energy(geometry.bond_lengths(positions, top.bonds, jnp),
                                             jnp), axis=-1),
            "angle": jnp.sum(self.angle.energy(geometry.angles(positions, top.angles, jnp),
                                               jnp), axis=-1),
        }
        if len(top.dihedrals):
            phi = geometry.dihedrals(positions, top.dihedrals, jnp)
            out["dihedral"] = jnp.sum(self.dihedral.energy(phi, jnp), axis=-1)
        if self.repulsion is not None and len(top.pairs):
            r = geometry.bond_lengths(positions, top.pairs, jnp)
            out["repulsion"] = jnp.sum(self.repulsion.energy(r, jnp), axis=-1)
        return out


def prior_energy(priors: Priors, positions: jnp.ndarray) -> jnp.ndarray:
    """Total prior energy (eV) of positions (..., n_beads, 3) in Å."""
    return sum(priors.term_energies(positions).values())


def prior_energy_and_forces(priors: Priors,
                            positions: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Batched energies (n_frames,) and forces (n_frames, n_beads, 3), compiled once."""

    @jax.jit
    def run(x: jnp.ndarray) -> tuple[jnp.ndarray, jnp.ndarray]:
        energy, grad = jax.vmap(jax.value_and_grad(lambda y: prior_energy(priors, y)))(x)
        return energy, -grad

    energy, forces = run(jnp.asarray(positions))
    return np.asarray(energy, np.float64), np.asarray(forces, np.float64)
