"""Delta learning: an ML force field trained on the residual of the prior, and the combined
model evaluated as `full` (ML + prior), `prior-only` and `ml-only`."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from distillery.cg.energy import Priors, prior_energy, prior_energy_and_forces
from distillery.cg.serialise import load_priors
from distillery.cg.settings import MODELS, CGModel
from distillery.cg.topology import Topology
from distillery.cg.trainable import RefinedPriorField
from distillery.data.frames import FrameSet
from distillery.errors import ConfigError
from distillery.metrics.regression import energy_metrics, force_metrics
from distillery.potentials.inference import predict
from distillery.potentials.model import ForceField, Params, force_field, load_model
from distillery.potentials.neighbours import Neighbours
from distillery.potentials.settings import AnyModelSettings, CGnetSettings
from distillery.potentials.tree_arrays import fill_template
from distillery.train.checkpoint import CheckpointManager
from distillery.train.history import MetricsHistory
from distillery.train.potential_loop import FitResult, Labels, fit
from distillery.train.settings import FFTrainSettings


def residual_labels(frames: FrameSet, priors: Priors) -> Labels:
    """Reference energies and forces minus those of the prior: what the ML model learns."""
    energy, forces = prior_energy_and_forces(priors, frames.stacked_positions())
    return Labels(energy=np.asarray(frames.energy) - energy,
                  forces=list(frames.stacked_forces() - forces))


def delta_model(model_cfg: AnyModelSettings, topology: Topology) -> ForceField:
    """The model of `model_cfg`; a CGnet takes the molecule it leaves open (bead count,
    angles, dihedrals) from the prior's topology, so a saved model carries it."""
    if isinstance(model_cfg, CGnetSettings):
        molecule = {"n_beads": topology.n_beads,
                    "angles": tuple(map(tuple, topology.angles.tolist())),
                    "dihedrals": tuple(map(tuple, topology.dihedrals.tolist()))}
        model_cfg = CGnetSettings.model_validate(
            {**molecule, **model_cfg.model_dump(exclude_none=True)})
    return force_field(model_cfg)


def train_delta(model_cfg: AnyModelSettings, train_cfg: FFTrainSettings | None,
                train: FrameSet, val: FrameSet, priors: Priors, checkpoint_dir: str | Path,
                history: MetricsHistory | None = None, log: Callable[[str], None] = print,
                train_priors: bool = False) -> tuple[ForceField, FitResult, Priors]:
    """Fit the force-field model of `model_cfg` to the residual forces (and energies); resumes
    from the latest checkpoint in `checkpoint_dir`. With `train_priors` the parametric prior
    terms are refined with it, from the fitted values (`cg.trainable`). Returns the model, the
    fit (its `params` the network's alone) and the priors of the full model: the refined ones,
    or `priors` unchanged."""
    model = delta_model(model_cfg, priors.topology)
    trained = RefinedPriorField(model, priors, train.positions[0]) if train_priors else model
    val_labels = residual_labels(val, priors) if len(val) else None
    result = fit(trained, train, val, train_cfg, checkpoint_dir, history,
                 train_labels=residual_labels(train, priors), val_labels=val_labels, log=log)
    if not isinstance(trained, RefinedPriorField):
        return model, result, priors
    params, refined = trained.split(result.params)
    return model, replace(result, params=params), refined


def checkpoint_names(checkpoint_dir: str | Path) -> list[str]:
    """The checkpoints of a training run's folder (`latest`, `best`, `epoch_NNNN`), sorted."""
    return sorted(p.stem for p in Path(checkpoint_dir).glob("*.json"))


def checkpoint_model(checkpoint_dir: str | Path, name: str, model: ForceField, params: Params,
                     priors: Priors) -> tuple[Params, Priors]:
    """The network parameters and the full model's priors at the training checkpoint `name`
    (`epoch_0010`, `best`, `latest`): its EMA weights (those the final model keeps, of its
    best epoch), the stats of the final `params` (fitted once before training) and, where the
    run trained the priors, its refined priors from the fitted `priors`."""
    manager = CheckpointManager(checkpoint_dir)
    found = manager.load(name)
    if found is None:
        raise ConfigError(f"cg.evaluate.checkpoint: no checkpoint {name!r} in {checkpoint_dir}; "
                          f"found {checkpoint_names(checkpoint_dir)}")
    latest = manager.load("latest")
    if latest is not None and latest[1].get("fingerprint") != found[1].get("fingerprint"):
        raise ConfigError(f"cg.evaluate.checkpoint: {name!r} in {checkpoint_dir} was written "
                          "by another training run than the final model; train again or name "
                          f"one of this run's: {checkpoint_names(checkpoint_dir)}")
    ema = found[1]["ema"]
    if "prior" in ema and "delta" in ema:
        template: Any = RefinedPriorField(model, priors, np.zeros((priors.topology.n_beads, 3)))
    else:
        template = model
    shapes = jax.eval_shape(lambda: template.init(0))
    net = fill_template(shapes, jax.tree.leaves(ema), manager.path(name), "ema",
                        fix="name a checkpoint of this model", exact_dtypes=False)
    full = {"net": net, "stats": params["stats"]}
    if isinstance(template, RefinedPriorField):
        return template.split(full)
    return full, priors


def mode_predictions(priors: Priors, model: ForceField | None, params: Params | None,
                     frames: FrameSet, models: Sequence[CGModel] = MODELS,
                     full_priors: Priors | None = None
                     ) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Energies (n,) and forces (n, n_beads, 3) of each of `models` (evaluation modes); all
    but `prior-only` need the delta `model`. `full` adds the network to `full_priors` (the
    refined priors of `cg.priors.train`), to `priors` when None; `prior-only` is `priors`."""
    if model is None and set(models) - {"prior-only"}:
        raise ValueError(f"coarse-grained models {list(models)}: all but prior-only need the "
                         "delta model")
    prior_e, prior_f = prior_energy_and_forces(priors, frames.stacked_positions())
    if model is None:
        return {"prior-only": (prior_e, prior_f)}
    only = (prior_e, prior_f)
    ml_e, ml_f = predict(model, params, frames)
    ml_f = np.stack(ml_f)
    if full_priors is not None:
        prior_e, prior_f = prior_energy_and_forces(full_priors, frames.stacked_positions())
    predictions = {"full": (prior_e + ml_e, prior_f + ml_f), "prior-only": only,
                   "ml-only": (ml_e, ml_f)}
    return {m: predictions[m] for m in models}


def mode_metrics(predictions: Mapping[str, tuple[np.ndarray, np.ndarray]],
                 frames: FrameSet) -> dict[str, dict[str, float]]:
    """The force-field metric set per mode. A CG potential is defined up to a constant (the
    prior has none), so energies are compared after removing the mean offset."""
    ref_e = np.asarray(frames.energy, np.float64)
    ref_f = frames.stacked_forces().reshape(-1, 3)
    out = {}
    for mode, (energy, forces) in predictions.items():
        centred = energy - np.mean(energy - ref_e)
        out[mode] = {**energy_metrics(centred, ref_e, frames.n_atoms),
                     **force_metrics(np.asarray(forces).reshape(-1, 3), ref_f)}
    return out


def all_pairs(n_beads: int) -> Neighbours:
    """Every directed bead pair: the model's cosine cutoff zeroes pairs beyond its range, so a
    fixed full list gives the same energy as a rebuilt neighbour list while beads move."""
    i, j = np.nonzero(~np.eye(n_beads, dtype=bool))
    return Neighbours(jnp.asarray(j, jnp.int32), jnp.asarray(i, jnp.int32),
                      jnp.zeros((len(i), 3)), jnp.ones(len(i), bool))


def combined_energy(priors: Priors, model: ForceField | None, params: Params | None,
                    numbers: np.ndarray) -> Callable[[jnp.ndarray], jnp.ndarray]:
    """E(x) = prior + ML for one configuration (n_beads, 3); the prior alone without a model."""
    if model is None:
        return lambda x: prior_energy(priors, x)
    z = jnp.asarray(numbers, jnp.int32)
    nbrs = all_pairs(len(numbers))
    cell = jnp.zeros((3, 3))
    return lambda x: prior_energy(priors, x) + model.energy(params, x, z, cell, nbrs)


def load_models(priors: str | Path, delta: str | Path | None = None,
                full_priors: str | Path | None = None, checkpoint: str | None = None,
                checkpoint_dir: str | Path | None = None
                ) -> tuple[Priors, ForceField | None, Params | None, Priors]:
    """(fitted priors, delta network, its parameters, the full model's priors) as the
    evaluation and the simulation use them: the final model from `delta` (`model.npz`) and
    `full_priors` (`delta/priors.npz`: refined, or the fitted ones again), or with
    `checkpoint` that training checkpoint in `checkpoint_dir`. No network without `delta`."""
    fitted = load_priors(priors)
    if delta is None:
        return fitted, None, None, fitted
    model, params = load_model(Path(delta).parent)
    full = load_priors(full_priors) if full_priors is not None else fitted
    if checkpoint is not None:
        if checkpoint_dir is None:
            raise ValueError("a delta checkpoint needs the training's checkpoint folder")
        params, full = checkpoint_model(checkpoint_dir, checkpoint, model, params, fitted)
    return fitted, model, params, full
