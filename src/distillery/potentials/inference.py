"""Predict energies/forces of frames with a JAX force field; metrics and throughput."""

from __future__ import annotations

import resource
import time
from collections.abc import Callable
from functools import partial
from typing import Any

import jax
import numpy as np

from distillery.data.frames import FrameSet
from distillery.metrics.regression import energy_metrics, force_metrics
from distillery.potentials.model import ForceField, Params, count_parameters
from distillery.potentials.neighbours import Bucket, batch_plan, build_buckets, take_batch


def _batches(buckets: list[Bucket], batch_size: int) -> list[tuple[Bucket, np.ndarray, dict]]:
    return [(buckets[b], rows, take_batch(buckets[b], rows, batch_size))
            for b, rows in batch_plan(buckets, batch_size)]


def bound_predictor(model: ForceField, params: Params
                    ) -> Callable[[dict], tuple[jax.Array, jax.Array]]:
    """`model.predict_batch` compiled with the parameters bound in, on the device: a call then
    passes only the batch, not the whole parameter tree, which is most of a small model's cost
    per structure (the weights do not change at inference)."""
    return jax.jit(partial(model.predict_batch, jax.device_put(params)))


def bound_energy_and_forces(model: ForceField, params: Params
                            ) -> Callable[..., tuple[jax.Array, jax.Array]]:
    """`model.energy_and_forces(positions, numbers, cell, neighbours)` of one unpadded
    structure, compiled with the parameters bound in (as `bound_predictor`); also traceable
    inside another compiled function (the MD engine's steps)."""
    return jax.jit(partial(model.energy_and_forces, jax.device_put(params)))


def predict(model: ForceField, params: Params, frames: FrameSet, batch_size: int = 16
            ) -> tuple[np.ndarray, list[np.ndarray]]:
    """Energies (n_frames,) and per-frame forces (n_i, 3) in the frames' order."""
    fn = bound_predictor(model, params)
    energy = np.zeros(len(frames))
    forces: list[np.ndarray] = [np.empty((0, 3))] * len(frames)
    for bucket, rows, batch in _batches(build_buckets(frames, model.cutoff), batch_size):
        e, f = jax.device_get(fn(batch))
        for row, k in enumerate(bucket.index[rows]):
            energy[k] = e[row]
            forces[k] = np.asarray(f[row, :len(frames.numbers[k])], np.float64)
    return energy, forces


def evaluate(model: ForceField, params: Params, frames: FrameSet, batch_size: int = 16
             ) -> tuple[dict[str, float], np.ndarray, list[np.ndarray]]:
    """Metrics against the frames' reference labels, plus the predictions themselves."""
    energy, forces = predict(model, params, frames, batch_size)
    metrics = {**energy_metrics(energy, frames.energy, frames.n_atoms),
               **force_metrics(np.concatenate(forces), np.concatenate(frames.forces))}
    return metrics, energy, forces


def throughput(model: ForceField, params: Params, frames: FrameSet, batch_size: int = 16,
               min_seconds: float = 2.0, min_edges: int = 0) -> dict[str, Any]:
    """Energy+force inference speed over `frames` (repeated for at least `min_seconds`);
    neighbour lists are built beforehand and jit compilation is timed separately.
    `min_edges`: pad every frame to at least this many edges (to compare paddings)."""
    fn = bound_predictor(model, params)
    buckets = build_buckets(frames, model.cutoff, min_edges=min_edges)
    batches = [jax.device_put(b) for _, _, b in _batches(buckets, batch_size)]
    start = time.perf_counter()
    for batch in batches:
        jax.block_until_ready(fn(batch))
    first_pass = time.perf_counter() - start
    passes = 0
    start = time.perf_counter()
    while passes == 0 or time.perf_counter() - start < min_seconds:
        for batch in batches:
            jax.block_until_ready(fn(batch))
        passes += 1
    elapsed = time.perf_counter() - start
    # compile time: the first pass minus what a compiled pass takes
    compile_s = max(first_pass - elapsed / passes, 0.0)
    return {"frames_per_s": passes * len(frames) / elapsed,
            "atoms_per_s": passes * int(frames.n_atoms.sum()) / elapsed,
            "compile_s": compile_s, "batch_size": batch_size,
            "n_parameters": count_parameters(params["net"])}


def tiled(frames: FrameSet, n: int) -> FrameSet:
    """At least `n` frames: `frames` repeated (so a batch of `n` holds real frames)."""
    return frames.subset(np.resize(np.arange(len(frames)), max(n, len(frames))))


def latency_by_batch(model: ForceField, params: Params, frames: FrameSet,
                     batch_sizes: tuple[int, ...], min_seconds: float) -> dict[str, float]:
    """`frames_per_s_batch<B>` and `latency_ms_batch<B>` (one batch of B frames) for every B,
    plus `peak_rss_mb`: the process's peak resident memory after the largest batch
    (host memory: XLA on CPU reports no device memory)."""
    out: dict[str, float] = {}
    for b in batch_sizes:
        speed = throughput(model, params, tiled(frames, b).subset(range(b)), b, min_seconds)
        out[f"frames_per_s_batch{b}"] = speed["frames_per_s"]
        out[f"latency_ms_batch{b}"] = 1000.0 * b / speed["frames_per_s"]
    out["peak_rss_mb"] = peak_rss_mb()
    return out


def peak_rss_mb() -> float:
    """Peak resident set size of this process (MiB; Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
