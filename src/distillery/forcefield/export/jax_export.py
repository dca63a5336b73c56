"""Serialise a pure JAX energy function with `jax.export` (StableHLO) plus its parameters.

The exported program maps (parameter leaves, positions, numbers, cell, pbc) to the energy,
the forces -dE/dR and the virial dE/d(strain), all from one reverse pass. Load it with
`distillery.forcefield.export.jax_loader`, which needs only jax and numpy.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax import export

from distillery.io import atomic_write, write_json

EnergyFn = Callable[[Any, jnp.ndarray, jnp.ndarray, jnp.ndarray, jnp.ndarray], jnp.ndarray]
PROGRAM = "forcefield.stablehlo"
PARAMS = "params.npz"
META = "forcefield.json"
FORMAT = "distillery-jax-forcefield"
# lowered for both so an export made on a CPU machine also runs on a GPU
PLATFORMS = ("cpu", "cuda")


def energy_forces_virial(energy_fn: EnergyFn) -> Callable[..., tuple[jnp.ndarray, ...]]:
    """(params, positions, numbers, cell, pbc) -> (energy, forces, virial).

    The virial is the derivative of the energy with respect to a symmetric homogeneous strain
    applied to positions and cell; the stress is virial / volume.
    """
    def predict(params, positions, numbers, cell, pbc):
        def strained(strain, pos):
            deform = jnp.eye(3, dtype=pos.dtype) + 0.5 * (strain + strain.T)
            return energy_fn(params, pos @ deform, numbers, cell @ deform, pbc)

        zero = jnp.zeros((3, 3), positions.dtype)
        energy, (virial, grad) = jax.value_and_grad(strained, argnums=(0, 1))(zero, positions)
        return energy, -grad, virial

    return predict


def export_forcefield(directory: str | Path, energy_fn: EnergyFn, params: Any, cutoff: float,
                      n_atoms: int | None = None, float64: bool = False,
                      meta: Mapping[str, Any] | None = None) -> Path:
    """Write program, parameters and metadata to `directory`; returns the metadata path.

    `n_atoms=None` exports a symbolic atom count (any size); an int fixes it. `float64` traces
    positions (and float64 parameters) in double precision.
    """
    with jax.enable_x64(float64):
        return _export(Path(directory), energy_fn, params, cutoff, n_atoms, meta or {})


def _export(directory: Path, energy_fn: EnergyFn, params: Any, cutoff: float,
            n_atoms: int | None, meta: Mapping[str, Any]) -> Path:
    leaves, treedef = jax.tree.flatten(jax.tree.map(jnp.asarray, params))
    predict = energy_forces_virial(energy_fn)

    def program(leaves, positions, numbers, cell, pbc):
        return predict(jax.tree.unflatten(treedef, leaves), positions, numbers, cell, pbc)

    size = export.symbolic_shape("n_atoms")[0] if n_atoms is None else int(n_atoms)
    real = jnp.zeros(()).dtype
    specs = (
        [jax.ShapeDtypeStruct(leaf.shape, leaf.dtype) for leaf in leaves],
        jax.ShapeDtypeStruct((size, 3), real),
        jax.ShapeDtypeStruct((size,), jnp.int32),
        jax.ShapeDtypeStruct((3, 3), real),
        jax.ShapeDtypeStruct((3,), jnp.bool_),
    )
    exported = export.export(jax.jit(program), platforms=PLATFORMS)(*specs)
    directory.mkdir(parents=True, exist_ok=True)
    with atomic_write(directory / PROGRAM) as handle:
        handle.write(exported.serialize())
    with atomic_write(directory / PARAMS) as handle:
        np.savez(handle, **{f"leaf_{i:05d}": np.asarray(leaf) for i, leaf in enumerate(leaves)})
    write_json(directory / META, {
        "format": FORMAT,
        "cutoff": float(cutoff),
        "n_atoms": n_atoms,
        "dtype": str(real),
        "platforms": list(exported.platforms),
        "n_parameters": int(sum(leaf.size for leaf in leaves)),
        **dict(meta),
    })
    return directory / META
