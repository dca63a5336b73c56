"""Force fields E(positions, numbers, cell): flax network + per-element shifts; F = -dE/dR.

`params` is `{"net": flax parameters, "stats": {"shift": (max_z+1,), "scale": ()}}`. The shift
(per-element reference energies) and scale are fitted on the training set and not trained; a
CGnet's stats also hold its feature means and spreads (`feature_mean`, `feature_std`).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import yaml
from pydantic import TypeAdapter

from distillery.array_files import NO_PICKLES, PICKLE_FOUND, load_arrays, save_arrays
from distillery.base_settings import validated
from distillery.data.frames import FrameSet
from distillery.errors import ConfigError, InputError, reason
from distillery.io import read_yaml, write_yaml
from distillery.potentials.cgnet import CGnet, feature_stats
from distillery.potentials.neighbours import Neighbours
from distillery.potentials.painn import PaiNN
from distillery.potentials.schnet import SchNet
from distillery.potentials.settings import (
    AnyModelSettings,
    CGnetSettings,
    ModelSettings,
    NetworkSettings,
)
from distillery.potentials.tree_arrays import flatten_tree, unflatten_named

ARCHITECTURES = {"painn": PaiNN, "schnet": SchNet}
Params = dict[str, Any]
_ANY_MODEL = TypeAdapter(AnyModelSettings)


class ForceField:
    """A PaiNN or SchNet-like model built from its `ModelSettings` (or a mapping of them)."""

    settings_class: type[NetworkSettings] = ModelSettings

    def __init__(self, config: NetworkSettings | Mapping[str, Any]) -> None:
        if not isinstance(config, self.settings_class):
            config = validated(self.settings_class, dict(config), "model")
        self.settings = config
        self.kind = config.kind
        self.config = config.as_dict()
        self.module = self._module()

    def _module(self) -> nn.Module:
        options = self.settings.model_dump(exclude={"kind"})
        return ARCHITECTURES[self.kind](**options)

    @property
    def cutoff(self) -> float:
        """Range of the neighbour list the network reads (Å)."""
        return float(self.module.cutoff)

    @property
    def max_z(self) -> int:
        return int(self.settings.max_z)

    def fit_stats(self, frames: FrameSet, energy: np.ndarray,
                  forces: list[np.ndarray] | None) -> dict[str, np.ndarray]:
        """The `stats` of the parameters, fitted on the training frames and their labels."""
        return fit_stats(frames, energy, forces, self.max_z)

    def stats_shapes(self) -> dict[str, jax.ShapeDtypeStruct]:
        """Shapes of the `stats` arrays (what a saved model must hold)."""
        return {"shift": jax.ShapeDtypeStruct((self.max_z + 1,), np.float32),
                "scale": jax.ShapeDtypeStruct((), np.float32)}

    def init(self, seed: int) -> Any:
        """Network parameters for a random seed (shape-independent: any frame size works)."""
        numbers = jnp.array([1, 1], jnp.int32)
        vectors = jnp.array([[1.0, 0.0, 0.0], [-1.0, 0.0, 0.0]])
        edges = jnp.array([1, 0], jnp.int32)
        return self.module.init(jax.random.PRNGKey(seed), numbers, vectors, edges,
                                edges[::-1], jnp.ones(2, bool))

    def decay_mask(self, net: Any) -> Any:
        """Which network parameters weight decay reaches: all (a model that adds trainable
        physical parameters, such as refined CG priors, leaves those out)."""
        return jax.tree.map(lambda _: True, net)

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

        arrays = tuple(batch[k] for k in ("positions", "numbers", "cell", "senders",
                                          "receivers", "shifts", "edge_mask"))
        if arrays[0].shape[0] == 1:
            # one structure (MD, latency at batch 1): vmap's batched gathers and scatters cost
            # more than a small model itself
            energy, forces = one(*(a[0] for a in arrays))
            return energy[None], forces[None]
        return jax.vmap(one)(*arrays)


class CGnetForceField(ForceField):
    """A CGnet (`CGnetSettings`) of one coarse-grained molecule: its energy depends on the
    bead positions alone, read without a neighbour list."""

    settings_class = CGnetSettings

    def _module(self) -> nn.Module:
        cfg = self.settings
        if not cfg.resolved:
            raise ConfigError("model: a cgnet needs its molecule (n_beads, angles, dihedrals); "
                              "the delta model takes them from the fitted prior's topology")
        return CGnet(cfg.width, cfg.depth, cfg.n_beads, cfg.angles, cfg.dihedrals)

    @property
    def cutoff(self) -> float:
        return 0.0  # every bead pair enters the features: no neighbour list

    def init(self, seed: int) -> Any:
        n = self.module.n_features
        return self.module.init(jax.random.PRNGKey(seed), jnp.zeros((self.module.n_beads, 3)),
                                jnp.zeros(n), jnp.ones(n))

    def energy(self, params: Params, positions: jnp.ndarray, numbers: jnp.ndarray,
               cell: jnp.ndarray, neighbours: Neighbours) -> jnp.ndarray:
        # one isolated molecule: no cell, and the features need no neighbour list
        stats = params["stats"]
        network = self.module.apply(params["net"], positions, stats["feature_mean"],
                                    stats["feature_std"])
        shift = jnp.where(numbers > 0, jnp.asarray(stats["shift"])[numbers], 0.0)
        return stats["scale"] * network + jnp.sum(shift)

    def fit_stats(self, frames: FrameSet, energy: np.ndarray,
                  forces: list[np.ndarray] | None) -> dict[str, np.ndarray]:
        n_beads = self.module.n_beads
        if np.any(frames.n_atoms != n_beads):
            raise ConfigError(f"model: a cgnet of {n_beads} beads, found frames of "
                              f"{sorted(set(frames.n_atoms.tolist()))} beads")
        features = feature_stats(frames.stacked_positions(), n_beads, self.module.angles,
                                 self.module.dihedrals)
        return {**super().fit_stats(frames, energy, forces),
                "feature_mean": features["mean"], "feature_std": features["std"]}

    def stats_shapes(self) -> dict[str, jax.ShapeDtypeStruct]:
        features = jax.ShapeDtypeStruct((self.module.n_features,), np.float32)
        return {**super().stats_shapes(), "feature_mean": features, "feature_std": features}


def force_field(config: NetworkSettings | Mapping[str, Any]) -> ForceField:
    """The model of `config` (settings or a mapping of them), by its `kind`."""
    if not isinstance(config, NetworkSettings):
        config = validated(_ANY_MODEL, dict(config), "model")
    return (CGnetForceField if isinstance(config, CGnetSettings) else ForceField)(config)


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
        model = force_field(meta["config"])
    # a damaged description fails in the YAML parser, as a missing key or a bad setting
    except (OSError, yaml.YAMLError, TypeError, ValueError, KeyError, ConfigError) as exc:
        raise InputError(meta_path, "config", f"no usable model description ({reason(exc)})",
                         expected, fix=fix) from None
    # shapes only: the file keeps the dtypes it was trained in (float64 with x64 enabled)
    template = {"net": jax.eval_shape(lambda: model.init(0)), "stats": model.stats_shapes()}
    return model, unflatten_named(template, arrays, arrays_path, fix, exact_dtypes=False)
