"""Settings of a run of the JAX MD engine (`python -m distillery.forcefield.md`)."""

from __future__ import annotations

from typing import Literal

from pydantic import NonNegativeFloat, NonNegativeInt, PositiveFloat, PositiveInt

from distillery.base_settings import Settings


class MDSettings(Settings):
    """NVE (velocity Verlet) or Langevin (BAOAB) MD of one structure."""

    ensemble: Literal["nve", "langevin"] = "nve"
    steps: PositiveInt = 1000
    timestep_fs: PositiveFloat = 0.5
    # K: the Langevin bath, and the starting velocities of the command line
    temperature: PositiveFloat = 300.0
    friction_per_ps: PositiveFloat = 10.0  # Langevin friction
    sample_every: PositiveInt = 10  # steps between recorded samples
    skin: NonNegativeFloat = 0.5  # Å added to the cutoff; the list lasts until a move of skin/2
    # steps per compiled call: longer chunks mean fewer host round trips, at the price of
    # idle steps after a neighbour list expires mid-chunk
    chunk_steps: PositiveInt = 200
    seed: NonNegativeInt = 0  # Langevin noise and starting velocities
    # integrate (positions, momenta, energies) in double precision; the model computes in its
    # own precision either way (ASE's integrators are double precision too)
    float64: bool = False
