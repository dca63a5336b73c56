"""Load an exported force field (StableHLO + NPZ parameters); needs only jax and numpy."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import jax
import numpy as np
from jax import export

from distillery.errors import InputError
from distillery.forcefield.export.jax_export import FORMAT, META, PARAMS, PROGRAM
from distillery.forcefield.export.neighbours import minimum_image_problem


@dataclass
class Prediction:
    energy: float  # eV
    forces: np.ndarray  # (n, 3) eV/Å
    virial: np.ndarray  # (3, 3) eV, dE/d(strain)


class ExportedForceField:
    """Energy, forces and virial of one structure from an exported directory."""

    def __init__(self, directory: str | Path) -> None:
        directory = Path(directory)
        self.directory = directory
        meta_path = directory / META
        try:
            self.meta: dict[str, Any] = json.loads(meta_path.read_text())
            program = (directory / PROGRAM).read_bytes()
            with np.load(directory / PARAMS) as stored:
                leaves = [stored[k] for k in sorted(stored.files)]
        except (OSError, ValueError) as exc:
            raise InputError(directory, "exported force field", f"unreadable ({exc})",
                             f"{PROGRAM}, {PARAMS} and {META} written by the export rule"
                             ) from None
        if self.meta.get("format") != FORMAT:
            raise InputError(meta_path, "format", self.meta.get("format"), FORMAT)
        self.cutoff = float(self.meta["cutoff"])
        self.n_atoms: int | None = self.meta["n_atoms"]
        self.dtype = np.dtype(self.meta["dtype"])
        # a float64 export runs (and keeps its parameters) in double precision
        self._x64 = self.dtype == np.float64
        with jax.enable_x64(self._x64):
            leaves = [jax.device_put(leaf) for leaf in leaves]
        # (positions, numbers, cell, pbc) -> (energy, forces, virial), parameters bound in: a
        # call passes one structure, not every weight array; it also traces into other
        # programs (the MD engine's steps)
        self.program = jax.jit(partial(export.deserialize(bytearray(program)).call, leaves))
        self._checked: tuple[Any, ...] | None = None

    def check(self, numbers: np.ndarray, cell: np.ndarray, pbc: np.ndarray) -> None:
        """Raise InputError for structures this export cannot evaluate exactly."""
        key = (len(numbers), np.asarray(cell).tobytes(), np.asarray(pbc).tobytes())
        if key == self._checked:  # MD: the same cell at every step
            return
        if self.n_atoms is not None and len(numbers) != self.n_atoms:
            raise InputError(self.directory, "n_atoms", len(numbers), self.n_atoms,
                             "export with a symbolic atom count (n_atoms: null)")
        problem = minimum_image_problem(cell, pbc, self.cutoff)
        if problem is not None:
            raise InputError(self.directory, "cell", problem,
                             "no pbc, or full pbc with every cell width above 2 x cutoff")
        self._checked = key

    def predict(self, positions: np.ndarray, numbers: np.ndarray, cell: np.ndarray,
                pbc: np.ndarray) -> Prediction:
        numbers = np.asarray(numbers)
        cell = np.array(cell, np.float64)
        pbc = np.asarray(pbc, bool)
        self.check(numbers, cell, pbc)
        with jax.enable_x64(self._x64):
            energy, forces, virial = jax.device_get(self.program(
                np.asarray(positions, self.dtype), numbers.astype(np.int32),
                cell.astype(self.dtype), pbc))
        return Prediction(float(energy), np.asarray(forces, np.float64),
                          np.asarray(virial, np.float64))
