"""Delta learning: an ML force field trained on the residual of the prior, and the combined
model evaluated as `full` (ML + prior), `prior-only` and `ml-only`."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import jax.numpy as jnp
import numpy as np

from distillery.cg.energy import Priors, prior_energy, prior_energy_and_forces
from distillery.cg.settings import MODELS, CGModel
from distillery.cg.topology import Topology
from distillery.data.frames import FrameSet
from distillery.metrics.regression import energy_metrics, force_metrics
from distillery.potentials.inference import predict
from distillery.potentials.model import ForceField, Params, force_field
from distillery.potentials.neighbours import Neighbours
from distillery.potentials.settings import AnyModelSettings, CGnetSettings
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
                history: MetricsHistory | None = None,
                log: Callable[[str], None] = print) -> tuple[ForceField, FitResult]:
    """Fit the force-field model of `model_cfg` to the residual forces (and energies); resumes
    from the latest checkpoint in `checkpoint_dir`."""
    model = delta_model(model_cfg, priors.topology)
    val_labels = residual_labels(val, priors) if len(val) else None
    result = fit(model, train, val, train_cfg, checkpoint_dir, history,
                 train_labels=residual_labels(train, priors), val_labels=val_labels, log=log)
    return model, result


def mode_predictions(priors: Priors, model: ForceField | None, params: Params | None,
                     frames: FrameSet, models: Sequence[CGModel] = MODELS
                     ) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Energies (n,) and forces (n, n_beads, 3) of each of `models` (evaluation modes); all
    but `prior-only` need the delta `model`."""
    if model is None and set(models) - {"prior-only"}:
        raise ValueError(f"coarse-grained models {list(models)}: all but prior-only need the "
                         "delta model")
    prior_e, prior_f = prior_energy_and_forces(priors, frames.stacked_positions())
    if model is None:
        return {"prior-only": (prior_e, prior_f)}
    ml_e, ml_f = predict(model, params, frames)
    ml_f = np.stack(ml_f)
    predictions = {"full": (prior_e + ml_e, prior_f + ml_f), "prior-only": (prior_e, prior_f),
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
