"""Training of the charge head: weighted losses on ESP, dipole, quadrupole, total charge and
(optionally) reference charges; a train-vs-validation line per epoch with the difference in %.

Each loss is a mean square in the unit its metric reports (ESP kcal/mol/e, dipole D,
quadrupole D·Å, charges e), so the weights compare like with like.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax

from distillery.data.electrostatics import KCAL_PER_MOL
from distillery.data.frames import FrameSet
from distillery.electrostatics.metrics import DEBYE, electrostatic_metrics
from distillery.electrostatics.model import ChargeModel, electrostatic_buckets
from distillery.electrostatics.settings import ChargeTrainSettings
from distillery.potentials.neighbours import Bucket, batch_plan, take_batch
from distillery.train.early_stopping import EarlyStopping
from distillery.train.history import difference_pct, epoch_summary
from distillery.train.schedule import make_schedule
from distillery.train.settings import run_seed


def losses(model: ChargeModel, params: Any, batch: Mapping[str, jnp.ndarray]
           ) -> dict[str, jnp.ndarray]:
    """Weighted-mean squared errors of a padded batch (padding frames have weight 0)."""
    pred = model.predict_batch(params, batch)
    w = batch["weight"]

    def mean(per_frame: jnp.ndarray, has: jnp.ndarray) -> jnp.ndarray:
        weight = w * has
        return jnp.sum(weight * per_frame) / jnp.maximum(jnp.sum(weight), 1e-12)

    atoms = batch["numbers"] > 0
    mono_error = jnp.where(atoms, pred["mono"] - batch["mono"], 0.0) ** 2
    return {
        "esp": mean(jnp.mean(((pred["esp"] - batch["esp"]) / KCAL_PER_MOL) ** 2, -1),
                    batch["has_esp"]),
        "dipole": mean(jnp.mean(((pred["dipole"] - batch["dipole"]) / DEBYE) ** 2, -1),
                       batch["has_dipole"]),
        "quadrupole": mean(jnp.mean(((pred["quadrupole"] - batch["quadrupole"]) / DEBYE) ** 2,
                                    (-2, -1)), batch["has_quadrupole"]),
        "total_charge": mean((pred["total_charge"] - batch["total_charge"]) ** 2,
                             jnp.ones_like(w)),
        "mono": mean(jnp.sum(mono_error, -1) / jnp.maximum(jnp.sum(atoms, -1), 1),
                     batch["has_mono"]),
    }


def predict(model: ChargeModel, params: Any, frames: FrameSet, batch_size: int = 16,
            buckets: list[Bucket] | None = None) -> dict[str, Any]:
    """ESP, dipole, quadrupole (stacked) and atom charges (one array per frame), in the
    frames' order."""
    buckets = buckets if buckets is not None else electrostatic_buckets(frames, model.cutoff)
    fn = model.compiled_predict
    out: dict[str, list[Any]] = {k: [None] * len(frames)
                                 for k in ("esp", "dipole", "quadrupole", "mono")}
    for b, rows in batch_plan(buckets, batch_size):
        bucket = buckets[b]
        pred = jax.device_get(fn(params, take_batch(bucket, rows, batch_size)))
        for row, k in enumerate(bucket.index[rows]):
            for name in out:
                value = np.asarray(pred[name][row], np.float64)
                out[name][k] = value[:len(frames.numbers[k])] if name == "mono" else value
    return {k: (v if k == "mono" else np.stack(v)) for k, v in out.items()}


def fit(model: ChargeModel, train: FrameSet, val: FrameSet, settings: ChargeTrainSettings,
        log: Callable[[str], None] = print) -> tuple[Any, list[dict[str, float]]]:
    """Train from a seeded start; return the parameters of the best validation ESP RMSE and
    the per-epoch history (train_*, val_*, diff_pct_* for every metric)."""
    for name, frames in (("training", train), ("validation", val)):
        if "esp" not in frames.extras:
            raise ValueError(f"{name} frames without ESP labels (esp on esp_grid points)")
    seed = run_seed(settings.seed)
    train_buckets = electrostatic_buckets(train, model.cutoff)
    val_buckets = electrostatic_buckets(val, model.cutoff)
    rng = np.random.default_rng(seed)
    params = model.init(seed)
    steps_per_epoch = len(batch_plan(train_buckets, settings.batch_size))
    schedule = make_schedule(settings.schedule, settings.epochs * steps_per_epoch)
    optimizer = optax.chain(optax.clip_by_global_norm(settings.clip_norm),
                            optax.scale_by_adam())
    state = optimizer.init(params)
    weights = settings.weights.model_dump()

    def objective(p: Any, batch: Mapping[str, jnp.ndarray]) -> jnp.ndarray:
        terms = losses(model, p, batch)
        return sum(weights[k] * terms[k] for k in terms)

    @jax.jit
    def step(p: Any, s: Any, batch: Mapping[str, jnp.ndarray], lr: jnp.ndarray
             ) -> tuple[Any, Any]:
        grads = jax.grad(objective)(p, batch)
        updates, s = optimizer.update(grads, s, p)
        return optax.apply_updates(p, jax.tree.map(lambda u: -lr * u, updates)), s

    stopper = EarlyStopping(settings.patience)
    best, history, count = params, [], 0
    for epoch in range(1, settings.epochs + 1):
        for b, rows in batch_plan(train_buckets, settings.batch_size, rng):
            batch = take_batch(train_buckets[b], rows, settings.batch_size)
            params, state = step(params, state, batch, jnp.asarray(schedule(count)))
            count += 1
        scores = {name: electrostatic_metrics(
            predict(model, params, frames, settings.batch_size, buckets), frames)
            for name, frames, buckets in (("train", train, train_buckets),
                                          ("val", val, val_buckets))}
        row: dict[str, float] = {"epoch": epoch}
        for key in scores["train"]:
            row[f"train_{key}"], row[f"val_{key}"] = scores["train"][key], scores["val"][key]
            row[f"diff_pct_{key}"] = difference_pct(scores["train"][key], scores["val"][key])
        history.append(row)
        log(epoch_summary(epoch, scores["train"], scores["val"], difference=True))
        if stopper.update(scores["val"]["esp_rmse"]):
            best = params
        if stopper.should_stop:
            break
    return best, history
