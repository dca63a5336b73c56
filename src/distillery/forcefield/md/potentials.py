"""What the MD engine integrates: energy and forces of one structure as a JAX function that
compiles into the engine's steps. From an in-process model (`model_potential`), an exported
StableHLO program (`exported_potential`) or any JAX energy of the positions
(`energy_potential`, forces by autodiff)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from ase import Atoms

from distillery.errors import InputError
from distillery.forcefield.export.jax_export import META
from distillery.forcefield.export.jax_loader import ExportedForceField
from distillery.potentials.inference import bound_energy_and_forces
from distillery.potentials.model import MODEL_META, ForceField, Params, load_model
from distillery.potentials.neighbours import Neighbours

EnergyAndForces = Callable[[jax.Array, Neighbours | None], tuple[jax.Array, jax.Array]]


@dataclass(frozen=True)
class Potential:
    """`energy_and_forces(positions, neighbours)` -> (energy eV, forces eV/Å).

    With a `cutoff`, the engine passes a neighbour list of at least that range (padded,
    `models.neighbours.VerletList`); without one the function needs none and gets None.
    `float64`: the model computes in double precision (the engine then runs with x64
    enabled). A single-precision model takes positions of either precision (an engine that
    integrates in double precision hands it single-precision copies).
    """

    energy_and_forces: EnergyAndForces
    cutoff: float | None
    float64: bool = False


def model_potential(model: ForceField, params: Params, numbers: np.ndarray,
                    cell: np.ndarray | None = None) -> Potential:
    """A trained model (`load_model`) on one structure's atoms and (periodic) cell."""
    float64 = any(np.asarray(leaf).dtype == np.float64 for leaf in jax.tree.leaves(params))
    with jax.enable_x64(float64):  # device copies keep float64 parameters and cell
        bound = bound_energy_and_forces(model, params)
        numbers_dev = jnp.asarray(np.asarray(numbers), jnp.int32)
        cell_dev = jnp.asarray(np.zeros((3, 3)) if cell is None else np.asarray(cell, float))

    dtype = jnp.float64 if float64 else jnp.float32

    def energy_and_forces(positions: jax.Array, neighbours: Neighbours | None
                          ) -> tuple[jax.Array, jax.Array]:
        if neighbours is not None:
            neighbours = neighbours._replace(shifts=neighbours.shifts.astype(dtype))
        return bound(positions.astype(dtype), numbers_dev, cell_dev.astype(dtype), neighbours)

    # a CGnet reads every bead pair itself: cutoff 0, no list
    return Potential(energy_and_forces, model.cutoff or None, float64)


def exported_potential(exported: ExportedForceField, numbers: np.ndarray,
                       cell: np.ndarray | None = None, pbc: np.ndarray | None = None
                       ) -> Potential:
    """An exported program (`ExportedForceField`): it finds its own neighbours."""
    cell = np.zeros((3, 3)) if cell is None else np.asarray(cell, np.float64)
    pbc = np.zeros(3, bool) if pbc is None else np.asarray(pbc, bool)
    exported.check(np.asarray(numbers), cell, pbc)
    program = exported.program
    numbers32 = np.asarray(numbers, np.int32)

    dtype = exported.dtype

    def energy_and_forces(positions: jax.Array, neighbours: None
                          ) -> tuple[jax.Array, jax.Array]:
        energy, forces, _ = program(positions.astype(dtype), numbers32, cell.astype(dtype), pbc)
        return energy, forces

    return Potential(energy_and_forces, None, exported.dtype == np.float64)


def energy_potential(energy: Callable[[jax.Array], Any], float64: bool = False) -> Potential:
    """Any JAX energy of the positions alone (an analytic potential); forces = -dE/dR."""
    def energy_and_forces(positions: jax.Array, neighbours: None
                          ) -> tuple[jax.Array, jax.Array]:
        value, grad = jax.value_and_grad(energy)(positions)
        return value, -grad

    return Potential(energy_and_forces, None, float64)


def load_potential(directory: str | Path, atoms: Atoms) -> Potential:
    """The potential of a trained model directory (`model.npz`, `model.yaml`) or an export
    directory (`forcefield.json`, program, parameters) for the atoms and cell of `atoms`."""
    directory = Path(directory)
    cell = atoms.cell.array if np.any(atoms.pbc) else None
    if (directory / META).exists():
        pbc = np.asarray(atoms.pbc, bool)
        return exported_potential(ExportedForceField(directory), atoms.numbers, cell, pbc)
    if (directory / MODEL_META).exists():
        model, params = load_model(directory)
        return model_potential(model, params, atoms.numbers, cell)
    raise InputError(directory, "model", "neither a trained model nor an export",
                     f"a directory with {MODEL_META} (trained model) or {META} (export)")
