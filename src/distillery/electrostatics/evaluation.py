"""Speed of a charge model and agreement between two models' predictions."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

import jax
import numpy as np

from distillery.data.frames import FrameSet, per_atom
from distillery.electrostatics.metrics import Predictions, electrostatic_metrics
from distillery.electrostatics.model import ChargeModel, electrostatic_buckets
from distillery.potentials.model import count_parameters
from distillery.potentials.neighbours import batch_plan, take_batch


def throughput(models: Mapping[str, tuple[ChargeModel, Any]], frames: FrameSet,
               batch_size: int = 16, min_seconds: float = 1.0) -> dict[str, dict[str, Any]]:
    """Per model (`models`: {name: (model, params)}), charges, ESP, dipole and quadrupole per
    second over `frames`. The models take turns, one pass over the frames each, until each
    has run for `min_seconds`, and each one's speed is that of its fastest pass: a pass takes
    about a millisecond, other load on the machine slows single passes by several times, and
    taking turns gives every model the same conditions. Graphs and ESP points are batched
    beforehand; the jit compilation is timed separately."""
    runs = {}
    for name, (model, params) in models.items():
        buckets = electrostatic_buckets(frames, model.cutoff)
        batches = [jax.device_put(take_batch(buckets[b], rows, batch_size))
                   for b, rows in batch_plan(buckets, batch_size)]
        runs[name] = (model.compiled_predict, params, batches)

    def one_pass(name: str) -> float:
        fn, params, batches = runs[name]
        start = time.perf_counter()
        for batch in batches:
            jax.block_until_ready(fn(params, batch))
        return time.perf_counter() - start

    first = {name: one_pass(name) for name in runs}
    passes: dict[str, list[float]] = {name: [] for name in runs}
    while min(sum(p) for p in passes.values()) < min_seconds:
        for name in runs:
            passes[name].append(one_pass(name))
    return {name: {"frames_per_s": len(frames) / min(passes[name]),
                   "compile_s": max(first[name] - float(np.median(passes[name])), 0.0),
                   "batch_size": batch_size,
                   "n_params": count_parameters(models[name][1])} for name in runs}


def agreement(predicted: Predictions, other: Predictions, frames: FrameSet) -> dict[str, float]:
    """ESP RMSE, dipole, quadrupole and charge MAE of `predicted` against `other` (a
    teacher's predictions) on the same frames, each with the suffix `_vs_teacher`."""
    labels = FrameSet(numbers=frames.numbers, positions=frames.positions, extras={
        "esp": other["esp"], "dipole": other["dipole"], "quadrupole": other["quadrupole"],
        "mono": per_atom(list(other["mono"]))})
    return {f"{k}_vs_teacher": v for k, v in electrostatic_metrics(predicted, labels).items()}
