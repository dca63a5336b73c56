"""Force fields E(positions, numbers, cell): flax network + per-element shifts; F = -dE/dR.

`params` is `{"net": flax parameters, "stats": {"shift": (max_z+1,), "scale": ()}}`. The shift
(per-element reference energies) and scale are fitted on the training set and not trained.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import yaml

from distillery.array_files import NO_PICKLES, PICKLE_FOUND, load_arrays, save_arrays
from distillery.base_settings import validated
from distillery.data.frames import FrameSet
from distillery.errors import ConfigError, InputError, reason
from distillery.io import read_yaml, write_yaml
from distillery.models.neighbours import Neighbours
from distillery.models.painn import PaiNN
from distillery.models.schnet import SchNet
from distillery.models.settings import ModelSettings
from distillery.models.tree_arrays import flatten_tree, unflatten_named

ARCHITECTURES = {"painn": PaiNN, "schnet": SchNet}
Params = dict[str, Any]


class ForceField:
    """A PaiNN or SchNet-like model built from its `ModelSettings` (or a mapping of them)."""

    def __init__(self, config: ModelSettings | Mapping[str, Any]) -> None:
        if not isinstance(config, ModelSettings):
            config = validated(ModelSettings, dict(config), "model")
        self.settings = config
        self.kind = config.kind
        options = config.as_dict()
        del options["kind"]
        self.module = ARCHITECTURES[self.kind](**options)
        self.config = config.as_dict()

    @property
    def cutoff(self) -> float:
        return float(self.module.cutoff)

    @property
    def max_z(self) -> int:
        return int(self.module.max_z)

    def init(self, seed: int) -> Any:
        """Network parameters for a random seed (shape-independent: any frame size works)."""
        numbers = jnp.array([1, 1], jnp.int32)
        vectors = jnp.array([[1.0, 0.0, 0.0], [-1.0, 0.0, 0.0]])
        edges = jnp.array([1, 0], jnp.int32)
        return self.module.init(jax.random.PRNGKey(seed), numbers, vectors, edges,
                                edges[::-1], jnp.ones(2, bool))

    def energy(self, params: Params, positions: jnp.ndarray, numbers: jnp.ndarray,
               cell: jnp.ndarray, neighbours: Neighbours) -> jnp.ndarray:
        """Total energy of one (padded) frame; atoms with number 0 are padding.

        A plain JAX function of `params` and `positions`, so other energy terms (priors) can be
        added to it before differentiating.
        """
        senders, receivers, shifts, edge_mask = neighbours
        vectors = positions[senders] - positions[receivers] + shifts @ cell
        atomic = self.module.apply(params["net"], numbers, vectors, senders, receivers,
                                   edge_mask)
        stats = params["stats"]
        per_atom = stats["scale"] * atomic + jnp.asarray(stats["shift"])[numbers]
        return jnp.sum(jnp.where(numbers > 0, per_atom, 0.0))

    def energy_and_forces(self, params: Params, positions: jnp.ndarray, numbers: jnp.ndarray,
                          cell: jnp.ndarray, neighbours: Neighbours
                          ) -> tuple[jnp.ndarray, jnp.ndarray]:
        energy, grad = jax.value_and_grad(self.energy, argnums=1)(
            params, positions, numbers, cell, neighbours)
        return energy, -grad

    def predict_batch(self, params: Params, batch: Mapping[str, jnp.ndarray]
                      ) -> tuple[jnp.ndarray, jnp.ndarray]:
        """Energies (B,) and forces (B, N, 3) of a padded batch from `neighbours.take_batch`."""
        def one(positions, numbers, cell, senders, receivers, shifts, edge_mask):
            return self.energy_and_forces(params, positions, numbers, cell,
                                          Neighbours(senders, receivers, shifts, edge_mask))

        return jax.vmap(one)(batch["positions"], batch["numbers"], batch["cell"],
                             batch["senders"], batch["receivers"], batch["shifts"],
                             batch["edge_mask"])


def fit_stats(frames: FrameSet, energy: np.ndarray, forces: list[np.ndarray] | None,
              max_z: int) -> dict[str, np.ndarray]:
    """Per-element energy shifts by least squares on element counts; scale = force RMS.

    With a fixed composition the counts are collinear; lstsq then gives the minimum-norm shifts,
    which still reproduce the mean energy.
    """
    elements = np.unique(np.concatenate(frames.numbers))
    if elements.max() > max_z or elements.min() < 1:
        raise ConfigError(f"atomic numbers {elements.tolist()} outside 1..{max_z}")
    counts = np.array([[np.sum(z == e) for e in elements] for z in frames.numbers], float)
    coef, *_ = np.linalg.lstsq(counts, np.asarray(energy, float), rcond=None)
    shift = np.zeros(max_z + 1)
    shift[elements] = coef
    scale = 1.0
    if forces is not None:
        rms = float(np.sqrt(np.mean(np.concatenate([f.ravel() for f in forces]) ** 2)))
        scale = rms if rms > 0 else 1.0
    return {"shift": shift, "scale": np.asarray(scale)}


def count_parameters(net_params: Any) -> int:
    return int(sum(np.size(leaf) for leaf in jax.tree.leaves(net_params)))


MODEL_ARRAYS, MODEL_META = "model.npz", "model.yaml"


def save_model(directory: str | Path, model: ForceField, params: Params,
               meta: Mapping[str, Any] | None = None) -> None:
    """`model.npz` (the parameter pytree as arrays keyed by '/'-joined paths, e.g.
    `net/params/...`, `stats/shift`) and `model.yaml` beside it: the architecture config, the
    fitted energy shifts and scale (readable copies) and `meta`."""
    directory = Path(directory)
    host = jax.tree.map(np.asarray, jax.device_get(params))
    save_arrays(directory / MODEL_ARRAYS, flatten_tree(host))
    write_yaml(directory / MODEL_META, {
        "config": model.config,
        "n_parameters": count_parameters(host["net"]),
        "energy_shift": {int(z): float(v) for z, v in enumerate(host["stats"]["shift"]) if v},
        "scale": float(host["stats"]["scale"]),
        **dict(meta or {}),
    })


def load_model(directory: str | Path) -> tuple[ForceField, Params]:
    """The model and its parameters (numpy arrays, with the dtypes they were saved with) from
    a directory written by `save_model`; anything else raises a one-line InputError."""
    directory = Path(directory)
    arrays_path, meta_path = directory / MODEL_ARRAYS, directory / MODEL_META
    expected = f"{MODEL_ARRAYS} and {MODEL_META} written by save_model"
    fix = "retrain the model"
    legacy = directory / "model.pkl"
    if not arrays_path.exists() and legacy.exists():
        raise InputError(legacy, "file", f"{PICKLE_FOUND} (the model format before "
                         f"{MODEL_ARRAYS})", expected, fix=f"{fix} ({NO_PICKLES})")
    arrays = load_arrays(arrays_path, expected, fix)
    try:
        meta = read_yaml(meta_path)
        model = ForceField(meta["config"])
    # a damaged description fails in the YAML parser, as a missing key or a bad setting
    except (OSError, yaml.YAMLError, TypeError, ValueError, KeyError, ConfigError) as exc:
        raise InputError(meta_path, "config", f"no usable model description ({reason(exc)})",
                         expected, fix=fix) from None
    # shapes only: the file keeps the dtypes it was trained in (float64 with x64 enabled)
    template = {"net": jax.eval_shape(lambda: model.init(0)),
                "stats": {"shift": jax.ShapeDtypeStruct((model.max_z + 1,), np.float32),
                          "scale": jax.ShapeDtypeStruct((), np.float32)}}
    return model, unflatten_named(template, arrays, arrays_path, fix, exact_dtypes=False)
