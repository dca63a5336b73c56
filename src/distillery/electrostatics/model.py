"""A charge head on the force-field representation (PaiNN or SchNet features): per-atom
charges, optionally `n_dcm` distributed charges per atom displaced off the atom along its
bonds, with the molecule's total charge conserved exactly by a mean shift.

A frame's sites are its atoms followed by their off-centre charges (atom i's k-th at
n_atoms + i * n_dcm + k); the charge of an atom is the sum over its sites. From sites and
charges come the ESP, dipole and quadrupole of `physics`, so every target is reached through
the same point-charge model the baselines use.
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
from pydantic import ValidationError

from distillery.array_files import load_arrays, save_arrays
from distillery.data.frames import FrameSet
from distillery.electrostatics import physics
from distillery.electrostatics.settings import ChargeModelSettings
from distillery.errors import InputError, reason
from distillery.io import read_yaml, write_yaml
from distillery.potentials.layers import edge_geometry
from distillery.potentials.model import ARCHITECTURES, MODEL_ARRAYS, MODEL_META, count_parameters
from distillery.potentials.neighbours import Bucket, build_buckets
from distillery.potentials.tree_arrays import flatten_tree, unflatten_named


class ChargeHead(nn.Module):
    """Site charges (n_atoms, 1 + n_dcm) and off-centre displacements (n_atoms, n_dcm, 3)."""

    representation: nn.Module
    n_dcm: int
    max_offset: float

    @nn.compact
    def __call__(self, numbers: jnp.ndarray, vectors: jnp.ndarray, senders: jnp.ndarray,
                 receivers: jnp.ndarray, edge_mask: jnp.ndarray
                 ) -> tuple[jnp.ndarray, jnp.ndarray]:
        h = self.representation(numbers, vectors, senders, receivers, edge_mask)
        width = h.shape[-1]
        charges = nn.Dense(1 + self.n_dcm)(jax.nn.silu(nn.Dense(width)(h)))
        n_atoms = numbers.shape[0]
        if self.n_dcm == 0:
            return charges, jnp.zeros((n_atoms, 0, 3), h.dtype)
        # each off-centre charge moves along a learned mix of the atom's bond directions
        # (rotation-equivariant, also for the invariant SchNet features)
        _, unit = edge_geometry(vectors, edge_mask)
        pair = jnp.concatenate([h[receivers], h[senders]], axis=-1)
        weight = jnp.tanh(nn.Dense(self.n_dcm)(jax.nn.silu(nn.Dense(width)(pair))))
        weight = weight * edge_mask[:, None]
        summed = jax.ops.segment_sum(weight[:, :, None] * unit[:, None, :], receivers, n_atoms)
        count = jax.ops.segment_sum(edge_mask.astype(h.dtype), receivers, n_atoms)
        return charges, self.max_offset * summed / jnp.maximum(count, 1.0)[:, None, None]


def conserve(charges: jnp.ndarray, mask: jnp.ndarray, total: jnp.ndarray) -> jnp.ndarray:
    """Charges (..., S) shifted by one amount over the real sites so that they sum to `total`
    (...,) exactly; padding sites (mask False) hold zero."""
    n = jnp.maximum(jnp.sum(mask, axis=-1), 1)
    excess = jnp.sum(jnp.where(mask, charges, 0.0), axis=-1) - total
    return jnp.where(mask, charges - (excess / n)[..., None], 0.0)


class ChargeModel:
    """The charge head of `ChargeModelSettings` with its representation network."""

    def __init__(self, settings: ChargeModelSettings) -> None:
        self.settings = settings
        options = settings.model.model_dump(exclude={"kind"})
        representation = ARCHITECTURES[settings.model.kind](**options, features_only=True)
        self.module = ChargeHead(representation, settings.n_dcm, settings.max_offset)
        # one compiled predictor per model: evaluation every epoch reuses its compilations
        self.compiled_predict = jax.jit(self.predict_batch)

    @property
    def cutoff(self) -> float:
        return float(self.settings.model.cutoff)

    def init(self, seed: int) -> Any:
        numbers = jnp.array([8, 1], jnp.int32)
        vectors = jnp.array([[1.0, 0.0, 0.0], [-1.0, 0.0, 0.0]])
        edges = jnp.array([1, 0], jnp.int32)
        # jitted: run eagerly, every operation of the initialisation compiles on its own
        return jax.jit(self.module.init)(jax.random.PRNGKey(seed), numbers, vectors, edges,
                                         edges[::-1], jnp.ones(2, bool))

    def sites(self, params: Any, batch: Mapping[str, jnp.ndarray]
              ) -> tuple[jnp.ndarray, jnp.ndarray, jnp.ndarray]:
        """Charges (B, S), site positions (B, S, 3) and the site mask (B, S) of a batch,
        S = n_atoms (1 + n_dcm)."""
        def one(positions, numbers, senders, receivers, shifts, cell, edge_mask):
            vectors = positions[senders] - positions[receivers] + shifts @ cell
            q, offsets = self.module.apply(params, numbers, vectors, senders, receivers,
                                           edge_mask)
            sites = jnp.concatenate([positions, (positions[:, None] + offsets).reshape(-1, 3)])
            atoms = numbers > 0
            mask = jnp.concatenate([atoms, jnp.repeat(atoms, self.settings.n_dcm)])
            charges = jnp.concatenate([q[:, 0], q[:, 1:].reshape(-1)])
            return jnp.where(mask, charges, 0.0), sites, mask

        arrays = tuple(batch[k] for k in ("positions", "numbers", "senders", "receivers",
                                          "shifts", "cell", "edge_mask"))
        charges, sites, mask = jax.vmap(one)(*arrays)
        if self.settings.conserve_charge:
            charges = conserve(charges, mask, batch["total_charge"])
        return charges, sites, mask

    def atom_charges(self, charges: jnp.ndarray, n_atoms: int) -> jnp.ndarray:
        """(B, n_atoms): each atom's own charge plus those of its off-centre sites."""
        own, rest = charges[:, :n_atoms], charges[:, n_atoms:]
        return own + rest.reshape(*own.shape, self.settings.n_dcm).sum(-1)

    def predict_batch(self, params: Any, batch: Mapping[str, jnp.ndarray]
                      ) -> dict[str, jnp.ndarray]:
        """ESP (B, G), dipole (B, 3), quadrupole (B, 3, 3), atom charges (B, n_atoms) and the
        total charge (B,) of a padded batch (`electrostatic_buckets`)."""
        charges, sites, mask = self.sites(params, batch)
        origin = physics.centre_of_mass(batch["positions"], batch["numbers"])
        return {"esp": physics.esp(charges, sites, batch["esp_grid"], mask),
                "dipole": physics.dipole(charges, sites, origin),
                "quadrupole": physics.quadrupole(charges, sites, origin),
                "mono": self.atom_charges(charges, batch["numbers"].shape[1]),
                "total_charge": jnp.sum(charges, axis=-1)}


TARGETS = ("esp", "dipole", "quadrupole", "mono")


def save_charge_model(directory: str | Path, model: ChargeModel, params: Any,
                      meta: Mapping[str, Any] | None = None) -> None:
    """`model.npz` (the parameters as arrays keyed by their '/'-joined paths) and `model.yaml`
    beside it: the charge-model settings, the parameter count and `meta`."""
    directory = Path(directory)
    host = jax.tree.map(np.asarray, jax.device_get(params))
    save_arrays(directory / MODEL_ARRAYS, flatten_tree(host))
    write_yaml(directory / MODEL_META, {"charges": model.settings.as_dict(),
                                        "n_parameters": count_parameters(host),
                                        **dict(meta or {})})


def load_charge_model(directory: str | Path) -> tuple[ChargeModel, Any]:
    """The charge model and its parameters from a directory written by `save_charge_model`;
    anything else raises a one-line InputError."""
    directory = Path(directory)
    arrays_path, meta_path = directory / MODEL_ARRAYS, directory / MODEL_META
    expected, fix = f"{MODEL_ARRAYS} and {MODEL_META} written by save_charge_model", \
        "retrain the model"
    arrays = load_arrays(arrays_path, expected, fix)
    try:
        model = ChargeModel(ChargeModelSettings.model_validate(read_yaml(meta_path)["charges"]))
    except (OSError, yaml.YAMLError, TypeError, KeyError, ValidationError) as exc:
        raise InputError(meta_path, "charges", f"no usable model description ({reason(exc)})",
                         expected, fix=fix) from None
    template = jax.eval_shape(lambda: model.init(0))
    return model, unflatten_named(template, arrays, arrays_path, fix, exact_dtypes=False)


def total_charges(frames: FrameSet) -> np.ndarray:
    """Each frame's total charge: its `total_charge` label, else its rounded charge sum (0
    without charges)."""
    if "total_charge" in frames.extras:
        return np.asarray(frames.extras["total_charge"], np.float64)
    if "mono" not in frames.extras:
        return np.zeros(len(frames))
    return np.array([np.round(np.sum(q)) for q in frames.extras["mono"]], np.float64)


def electrostatic_buckets(frames: FrameSet, cutoff: float) -> list[Bucket]:
    """Padded graph buckets of `frames` with their electrostatic labels: `esp` (B, G),
    `esp_grid` (B, G, 3), `dipole`, `quadrupole`, `mono` (B, n_atoms padded), `total_charge`
    and `has_<target>` flags (0 where a label is missing: frames to be labelled). ESP points
    are required."""
    if "esp_grid" not in frames.extras:
        raise ValueError("frames without ESP points (esp_grid)")
    totals = total_charges(frames)
    buckets = build_buckets(frames, cutoff)
    for bucket in buckets:
        rows, size = bucket.index, bucket.n_atoms
        arrays = bucket.arrays
        grid = np.asarray(frames.extras["esp_grid"], np.float64)[rows]
        arrays["esp_grid"] = grid
        arrays["total_charge"] = totals[rows]
        for name, shape in (("esp", grid.shape[1:2]), ("dipole", (3,)),
                            ("quadrupole", (3, 3))):
            present = name in frames.extras
            arrays[name] = (np.asarray(frames.extras[name], np.float64)[rows] if present
                            else np.zeros((len(rows), *shape)))
            arrays[f"has_{name}"] = np.full(len(rows), float(present))
        mono = np.zeros((len(rows), size))
        if "mono" in frames.extras:
            for row, k in enumerate(rows):
                mono[row, :len(frames.numbers[k])] = frames.extras["mono"][k]
        arrays["mono"] = mono
        arrays["has_mono"] = np.full(len(rows), float(np.any(mono != 0)))
    return buckets
