"""Training loop for JAX force fields (teacher, student, delta models alike).

Energy + force weighted loss (optionally Hessian-vector products), optax Adam with a warmup
schedule, gradient clipping and accumulation, EMA weights for evaluation, early stopping, a
per-epoch metrics table and checkpoints that resume bit-exactly.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax
from pydantic import ValidationError

from distillery.data.frames import FrameSet
from distillery.errors import ConfigError
from distillery.potentials.model import ForceField, Params
from distillery.potentials.neighbours import Bucket, batch_plan, build_buckets, take_batch
from distillery.potentials.tree_arrays import fill_template
from distillery.train.batch_probe import is_oom_error, probe_batch_size
from distillery.train.checkpoint import CheckpointManager, restore_generator
from distillery.train.data_parallel_jax import JaxDataParallel, jax_data_parallel
from distillery.train.early_stopping import EarlyStopping
from distillery.train.history import MetricsHistory, Progress, epoch_summary
from distillery.train.hvp import force_jvp
from distillery.train.jax_device import describe_jax_device
from distillery.train.schedule import make_schedule
from distillery.train.settings import FFTrainSettings, run_seed


@dataclass
class Labels:
    """Training targets that replace a FrameSet's own (teacher labels, residuals)."""

    energy: np.ndarray
    forces: list[np.ndarray]
    extras: dict[str, list[np.ndarray]] = field(default_factory=dict)


@dataclass
class FitResult:
    params: Params
    history: list[dict[str, Any]]
    info: dict[str, Any]
    is_main: bool = True  # False on the ranks of a multi-process run that write nothing


def train_config(cfg: FFTrainSettings | Mapping[str, Any] | None) -> FFTrainSettings:
    """Typed training settings (a mapping is validated; missing keys take their defaults)."""
    if isinstance(cfg, FFTrainSettings):
        return cfg
    try:
        return FFTrainSettings.model_validate(dict(cfg or {}))
    except ValidationError as exc:
        raise ConfigError(f"training settings: {exc.errors()[0]['loc']}: "
                          f"{exc.errors()[0]['msg']}") from None


class LossFunctions:
    """Jitted per-batch sums, gradients and optimizer update for one model and config."""

    def __init__(self, model: ForceField, cfg: FFTrainSettings) -> None:
        self.model = model
        self.weights = (float(cfg.energy_weight), float(cfg.forces_weight),
                        float(cfg.hvp_weight))
        chain = [optax.clip_by_global_norm(float(cfg.clip_norm)), optax.scale_by_adam()]
        if cfg.weight_decay:
            chain.append(optax.add_decayed_weights(float(cfg.weight_decay),
                                                   mask=model.decay_mask))
        self.optimizer = optax.chain(*chain)
        self.sums = jax.jit(self._sums)
        self.grad = jax.jit(jax.grad(self._objective, has_aux=True))
        self.update = jax.jit(self._update)
        self.add = jax.jit(lambda a, b: jax.tree.map(jnp.add, a, b))

    def _sums(self, net: Any, stats: Any, batch: Mapping[str, jnp.ndarray]
              ) -> dict[str, jnp.ndarray]:
        params = {"net": net, "stats": stats}
        energy, forces = self.model.predict_batch(params, batch)
        w = batch["weight"]
        atoms = (batch["numbers"] > 0) * w[:, None]
        e_err = (energy - batch["energy"]) / jnp.maximum(jnp.sum(batch["numbers"] > 0, 1), 1)
        f_err = (forces - batch["forces"]) * atoms[..., None]
        sums = {"e_sq": jnp.sum(w * e_err**2), "e_abs": jnp.sum(w * jnp.abs(e_err)),
                "f_sq": jnp.sum(f_err**2), "f_abs": jnp.sum(jnp.abs(f_err))}
        if self.weights[2] and "hvp_dir" in batch:
            h_err = (force_jvp(self.model, params, batch) - batch["hvp_target"]) * atoms[..., None]
            sums["h_sq"] = jnp.sum(h_err**2)
        return sums

    def loss(self, sums: Mapping[str, Any], norms: Mapping[str, Any]) -> Any:
        we, wf, wh = self.weights
        total = we * sums["e_sq"] / norms["frames"] + wf * sums["f_sq"] / norms["components"]
        if "h_sq" in sums:
            total = total + wh * sums["h_sq"] / norms["components"]
        return total

    def _objective(self, net: Any, stats: Any, batch: Mapping[str, jnp.ndarray],
                   norms: Mapping[str, jnp.ndarray]) -> tuple[jnp.ndarray, dict]:
        sums = self._sums(net, stats, batch)
        return self.loss(sums, norms), sums

    def _update(self, net: Any, opt_state: Any, ema: Any, grads: Any, lr: jnp.ndarray,
                ema_decay: jnp.ndarray) -> tuple[Any, Any, Any]:
        updates, opt_state = self.optimizer.update(grads, opt_state, net)
        net = optax.apply_updates(net, jax.tree.map(lambda u: -lr * u, updates))
        ema = jax.tree.map(lambda e, p: ema_decay * e + (1.0 - ema_decay) * p, ema, net)
        return net, opt_state, ema


_LOSS_CACHE: dict[str, LossFunctions] = {}


def loss_functions(model: ForceField, cfg: FFTrainSettings) -> LossFunctions:
    """Shared LossFunctions per model config and loss settings, so that repeated fits in one
    process (resumes, sweeps, tests) reuse the compiled programs."""
    keys = ("energy_weight", "forces_weight", "hvp_weight", "clip_norm", "weight_decay")
    key = json.dumps([model.config, [getattr(cfg, k) for k in keys]], sort_keys=True)
    if key not in _LOSS_CACHE:
        _LOSS_CACHE[key] = LossFunctions(model, cfg)
    return _LOSS_CACHE[key]


def run_fingerprint(model: ForceField, cfg: FFTrainSettings, labels: Labels) -> str:
    """What a checkpoint must match to be resumed: model, data and every setting that changes
    the trajectory (the epoch budget, early stopping and logging may change)."""
    free = {"epochs", "patience", "min_delta", "checkpoint_every", "progress_interval"}
    data = [len(labels.energy), float(np.sum(labels.energy)),
            float(sum(np.sum(f) for f in labels.forces))]
    kept = {k: v for k, v in cfg.as_dict().items() if k not in free}
    return json.dumps([model.config, kept, data], sort_keys=True, default=str)


def batch_norms(batches: list[Mapping[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """Frame and force-component counts of an accumulation group (the loss denominators)."""
    frames = sum(float(np.sum(b["weight"])) for b in batches)
    atoms = sum(float(np.sum((b["numbers"] > 0) * b["weight"][:, None])) for b in batches)
    return {"frames": np.asarray(max(frames, 1.0)), "components": np.asarray(max(3 * atoms, 1.0))}


def summarise(sums: Mapping[str, float], norms: Mapping[str, float], loss: float
              ) -> dict[str, float]:
    frames, comps = float(norms["frames"]), float(norms["components"])
    return {"loss": float(loss),
            "e_mae": float(sums["e_abs"]) / frames, "e_rmse": float(np.sqrt(sums["e_sq"] / frames)),
            "f_mae": float(sums["f_abs"]) / comps, "f_rmse": float(np.sqrt(sums["f_sq"] / comps))}


class Placement:
    """Where a fit's arrays live: unchanged with one device, else on the data-parallel mesh.

    Batches are padded to a multiple of the device count with weight-0, atom-free frames,
    which add nothing to any sum, so the sharded loss equals the unsharded one.
    """

    def __init__(self, dp: JaxDataParallel, batch_size: int) -> None:
        self.dp = dp
        self.rows = dp.padded_size(batch_size) if dp.active else batch_size

    def put(self, tree: Any) -> Any:
        return self.dp.replicate(tree) if self.dp.active else tree

    def batch(self, host: Mapping[str, np.ndarray]) -> Any:
        return self.dp.shard_batch(host) if self.dp.active else host


def evaluate_buckets(fns: LossFunctions, net: Any, stats: Any, buckets: list[Bucket],
                     batch_size: int, place: Placement | None = None) -> dict[str, float]:
    """Loss and errors (energy per atom, force components) over every frame of `buckets`."""
    rows = batch_size if place is None else place.rows
    batches = [take_batch(buckets[b], r, rows) for b, r in batch_plan(buckets, batch_size)]
    totals: dict[str, float] = {}
    for batch in batches:
        batch = batch if place is None else place.batch(batch)
        for key, value in fns.sums(net, stats, batch).items():
            totals[key] = totals.get(key, 0.0) + float(value)
    norms = batch_norms(batches)
    return summarise(totals, norms, float(fns.loss(totals, norms)))


def choose_batch_size(fns: LossFunctions, net: Any, stats: Any, buckets: list[Bucket],
                      cfg: FFTrainSettings, log: Callable[[str], None]) -> int:
    """The configured batch size, or with `auto` the largest that fits (probing the biggest
    bucket, backing off on out-of-memory), at most `max_batch_size`."""
    if cfg.batch_size != "auto":
        return int(cfg.batch_size)
    largest = max(buckets, key=lambda b: b.n_atoms * 10**9 + b.n_edges)
    n_train = sum(len(b.index) for b in buckets)

    def try_fn(n: int) -> None:
        batch = take_batch(largest, np.arange(min(n, len(largest.index))), n)
        grads, _ = fns.grad(net, stats, batch, batch_norms([batch]))
        jax.block_until_ready(grads)

    size = probe_batch_size(try_fn, 4, min(int(cfg.max_batch_size), n_train), is_oom_error)
    log(f"batch_size auto: {size} frames per batch fit")
    return size


def fit(model: ForceField, train: FrameSet, val: FrameSet, cfg: FFTrainSettings | None,
        checkpoint_dir: str | Path, history: MetricsHistory | None = None,
        train_labels: Labels | None = None, val_labels: Labels | None = None,
        stats: Mapping[str, np.ndarray] | None = None,
        log: Callable[[str], None] = print, min_steps: int | None = None) -> FitResult:
    """Train `model` on `train` (or on `train_labels`), validating on `val`; resumes from the
    latest checkpoint in `checkpoint_dir`. Returns the best EMA parameters.

    `min_steps`: an optimizer-step budget in place of `cfg.epochs`: the fewest whole epochs
    that give at least that many steps (early stopping may end the run before).

    With several devices (or processes) each batch is split over all of them; only the main
    process writes checkpoints, the history table and log lines."""
    cfg = train_config(cfg)
    dp = jax_data_parallel()
    if not dp.is_main:
        history, log = MetricsHistory(None), _silent
    train_labels = train_labels or Labels(train.energy, train.forces)
    val_labels = val_labels or (Labels(val.energy, val.forces) if len(val) else None)
    if train_labels.energy is None or train_labels.forces is None:
        raise ConfigError("training frames carry no energy/forces labels")
    if stats is None:
        stats = model.fit_stats(train, train_labels.energy, train_labels.forces)
    stats = jax.tree.map(jnp.asarray, dict(stats))
    train_buckets = build_buckets(train, model.cutoff, train_labels.energy, train_labels.forces,
                                  extras=train_labels.extras)
    val_buckets = (build_buckets(val, model.cutoff, val_labels.energy, val_labels.forces)
                   if val_labels is not None else [])
    fns = loss_functions(model, cfg)
    manager = CheckpointManager(checkpoint_dir, int(cfg.checkpoint_every))
    history = history or MetricsHistory(Path(checkpoint_dir) / "history.csv")
    stopper = EarlyStopping(int(cfg.patience), float(cfg.min_delta))
    fingerprint = run_fingerprint(model, cfg, train_labels)
    resumed = manager.load_latest()
    if resumed is not None and resumed[1].get("fingerprint") != fingerprint:
        log(f"ignoring checkpoints in {checkpoint_dir}: written for another model, data or "
            "training configuration")
        resumed = None
    if resumed is None:
        net = model.init(run_seed(cfg.seed))
        state = {"net": net, "opt_state": fns.optimizer.init(net), "ema": net, "step": 0,
                 "rng": np.random.default_rng(run_seed(cfg.seed)), "epoch": 0,
                 "batch_size": choose_batch_size(fns, net, stats, train_buckets, cfg, log)}
    else:
        state = resumed[1]
        # arrays come back as plain dicts and lists: refill a fresh state's structure (optax
        # NamedTuples) with them, checking count, shapes and dtypes
        net = model.init(run_seed(cfg.seed))
        template = {"net": net, "opt_state": fns.optimizer.init(net), "ema": net}
        state.update(fill_template(template, jax.tree.leaves({k: state[k] for k in template}),
                                   manager.path("latest"), "state",
                                   fix=f"delete {manager.path('latest')} to start afresh"))
        state["rng"] = restore_generator(state["rng"], manager.path("latest"))
        stopper.load_state_dict(state["stopper"])
        history.load_state_dict(state["history"])
        log(f"resuming from {manager.path('latest')} after epoch {state['epoch']}")
    rng, step, batch_size = state["rng"], int(state["step"]), int(state["batch_size"])
    place = Placement(dp, batch_size)
    net, opt_state, ema, stats_on = place.put(jax.tree.map(jnp.asarray, (
        state["net"], state["opt_state"], state["ema"], stats)))
    accumulate = max(int(cfg.accumulate), 1)
    n_batches = len(batch_plan(train_buckets, batch_size))
    steps_per_epoch = -(-n_batches // accumulate)
    epochs = epoch_budget(int(cfg.epochs), steps_per_epoch, min_steps)
    schedule = make_schedule(cfg.schedule, max(
        epochs * steps_per_epoch - int(cfg.schedule.warmup_steps), 1))
    info = {**describe_jax_device(), "n_devices": dp.n_devices, "n_processes": dp.n_processes,
            "data_parallel": dp.describe(), "batch_size": batch_size, "padded_batch": place.rows,
            "accumulate": accumulate, "steps_per_epoch": steps_per_epoch, "epochs": epochs,
            "n_train": len(train), "n_val": len(val)}
    log(f"training {model.kind} on {info['platform']} ({info['device']}, {info['dtype']}), "
        f"{dp.describe()}, {len(train)} frames, batch {batch_size} x {accumulate}, "
        f"{steps_per_epoch} steps/epoch")
    progress = Progress(epochs * steps_per_epoch, model.kind, float(cfg.progress_interval))
    epoch = int(state["epoch"])
    while epoch < epochs and not stopper.should_stop:
        epoch += 1
        start = time.perf_counter()
        plan = batch_plan(train_buckets, batch_size, rng)
        totals: dict[str, float] = {}
        epoch_norms = {"frames": 0.0, "components": 0.0}
        for g in range(0, len(plan), accumulate):
            batches = [take_batch(train_buckets[b], rows, place.rows)
                       for b, rows in plan[g:g + accumulate]]
            norms = batch_norms(batches)
            grads, norms_on = None, place.put(norms)
            for batch in batches:
                g_batch, sums = fns.grad(net, stats_on, place.batch(batch), norms_on)
                grads = g_batch if grads is None else fns.add(grads, g_batch)
                for key, value in sums.items():
                    totals[key] = totals.get(key, 0.0) + float(value)
            for key in epoch_norms:
                epoch_norms[key] += float(norms[key])
            decay = min(float(cfg.ema_decay), (1.0 + step) / (10.0 + step))
            net, opt_state, ema = fns.update(net, opt_state, ema, grads,
                                             *place.put((jnp.asarray(schedule(step)),
                                                         jnp.asarray(decay))))
            step += 1
            progress.update(step)
        train_metrics = summarise(totals, epoch_norms, float(fns.loss(totals, epoch_norms)))
        val_metrics = (evaluate_buckets(fns, ema, stats_on, val_buckets, batch_size, place)
                       if val_buckets else {})
        improved = stopper.update((val_metrics or train_metrics)["loss"])
        seconds = time.perf_counter() - start
        lr = schedule(max(step - 1, 0))
        history.append({"epoch": epoch, "step": step, "lr": lr, "seconds": seconds,
                        **{f"train_{k}": v for k, v in train_metrics.items()},
                        **{f"val_{k}": v for k, v in val_metrics.items()}, "best": improved})
        shown = ("loss", "e_mae", "f_mae")
        log(epoch_summary(epoch, {k: train_metrics[k] for k in shown},
                          {k: val_metrics[k] for k in shown if k in val_metrics},
                          lr=lr, s=round(seconds, 1)))
        host = jax.device_get({"net": net, "opt_state": opt_state, "ema": ema})
        if dp.is_main:
            manager.save({**host, "step": step, "rng": rng.bit_generator.state, "epoch": epoch,
                          "fingerprint": fingerprint,
                          "batch_size": batch_size, "stopper": stopper.state_dict(),
                          "history": history.state_dict()}, epoch, is_best=improved)
    # stopped early: the patience ran out before the epoch budget did
    stopped_early = stopper.should_stop and epoch < epochs
    if stopped_early:
        log(f"early stopping after epoch {epoch} of {epochs}: no improvement in "
            f"{stopper.patience} epochs")
    # other ranks read the main one's best checkpoint
    dp.barrier("potential_loop checkpoints written")
    best = manager.load_best()
    best_epoch, best_state = best if best is not None else (epoch, {"ema": ema})
    params = {"net": jax.tree.map(jnp.asarray, jax.device_get(best_state["ema"])),
              "stats": stats}
    info.update(epochs_run=epoch, best_epoch=best_epoch, stopped_early=stopped_early,
                final_step=step)
    return FitResult(params, history.state_dict(), info, dp.is_main)


def epoch_budget(epochs: int, steps_per_epoch: int, min_steps: int | None) -> int:
    """`epochs`, or with a step budget the fewest whole epochs of `steps_per_epoch` optimizer
    steps that reach `min_steps` (at least one)."""
    if min_steps is None:
        return epochs
    return max(-(-int(min_steps) // max(steps_per_epoch, 1)), 1)


def _silent(_: str) -> None:
    """The log of ranks other than the main one (which alone reports)."""
