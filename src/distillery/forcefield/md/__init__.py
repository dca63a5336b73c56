"""JAX-native MD: integrators compiled with the force field into one program per chunk of
steps, so a fast model is not held back by per-step Python overhead."""

from distillery.forcefield.md.engine import MDRun, maxwell_boltzmann, simulate
from distillery.forcefield.md.potentials import (
    Potential,
    energy_potential,
    exported_potential,
    model_potential,
)
from distillery.forcefield.md.settings import MDSettings

__all__ = ["MDRun", "MDSettings", "Potential", "energy_potential", "exported_potential",
           "maxwell_boltzmann", "model_potential", "simulate"]
