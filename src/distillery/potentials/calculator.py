"""An ASE calculator around a JAX force field (for MD driven by a trained model)."""

from __future__ import annotations

from typing import Any

import jax
import numpy as np
from ase.calculators.calculator import Calculator, all_changes

from distillery.data.frames import FrameSet
from distillery.potentials.inference import bound_predictor
from distillery.potentials.model import ForceField, Params
from distillery.potentials.neighbours import build_buckets, take_batch


class ModelCalculator(Calculator):
    """Energy and forces of one structure; the neighbour list is rebuilt at every call and
    padded (`padded_edges`, at most a multiple of `edge_multiple`) to the largest edge count
    seen so far, so the padded shape only grows and jit compiles a handful of times in MD."""

    implemented_properties = ("energy", "forces")

    def __init__(self, model: ForceField, params: Params, edge_multiple: int = 512,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.model = model
        self.params = params
        self.edge_multiple = edge_multiple
        self._predict = bound_predictor(model, params)
        self.n_edges = 0  # padded edge count of the shapes compiled so far

    def calculate(self, atoms: Any = None, properties: Any = ("energy",),
                  system_changes: Any = all_changes) -> None:
        super().calculate(atoms, properties, system_changes)
        periodic = bool(np.any(self.atoms.pbc))
        frame = FrameSet(numbers=[self.atoms.numbers.astype(np.int64)],
                         positions=[self.atoms.positions.copy()],
                         cell=np.asarray(self.atoms.cell)[None] if periodic else None,
                         pbc=np.asarray(self.atoms.pbc)[None] if periodic else None)
        bucket = build_buckets(frame, self.model.cutoff, edge_multiple=self.edge_multiple,
                               min_edges=self.n_edges)[0]
        self.n_edges = bucket.n_edges
        energy, forces = jax.device_get(
            self._predict(take_batch(bucket, np.arange(1), 1)))
        self.results = {"energy": float(energy[0]),
                        "forces": np.asarray(forces[0, :len(self.atoms)], np.float64)}
