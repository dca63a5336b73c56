"""Learning rate per optimizer step: linear warmup, then cosine/exponential/step/constant decay.

Pure Python on purpose, so optax (`optax.inject_hyperparams` or a callable schedule) and
`torch.optim.lr_scheduler.LambdaLR` can share one definition.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

from distillery.errors import ConfigError

KINDS = ("cosine", "exponential", "step", "constant")


def make_schedule(cfg: Mapping[str, Any]) -> Callable[[int], float]:
    """Build `lr(step)`.

    Keys: `lr` (peak rate, required), `warmup_steps` (0), `kind` (cosine), `decay_steps`
    (cosine length after warmup, 1000), `final_lr_ratio` (cosine floor as a fraction of `lr`, 0),
    `decay_rate` (exponential: factor per `decay_steps`, 0.1), `step_size` and `gamma`
    (step: multiply by `gamma` every `step_size` steps after warmup).
    """
    kind = cfg.get("kind", "cosine")
    if kind not in KINDS:
        raise ConfigError(f"schedule kind: found {kind!r}, expected one of {list(KINDS)}")
    if "lr" not in cfg:
        raise ConfigError("schedule: missing `lr` (the peak learning rate)")
    lr = float(cfg["lr"])
    warmup = int(cfg.get("warmup_steps", 0))
    decay_steps = max(int(cfg.get("decay_steps", 1000)), 1)
    final_ratio = float(cfg.get("final_lr_ratio", 0.0))
    decay_rate = float(cfg.get("decay_rate", 0.1))
    step_size = max(int(cfg.get("step_size", 1000)), 1)
    gamma = float(cfg.get("gamma", 0.5))

    def decay(t: int) -> float:
        if kind == "cosine":
            progress = min(t / decay_steps, 1.0)
            return final_ratio + (1.0 - final_ratio) * 0.5 * (1.0 + math.cos(math.pi * progress))
        if kind == "exponential":
            return decay_rate ** (t / decay_steps)
        if kind == "step":
            return gamma ** (t // step_size)
        return 1.0

    def schedule(step: int) -> float:
        step = int(step)
        if step < warmup:
            # (step + 1) so that the very first update is not taken at a zero rate
            return lr * (step + 1) / warmup
        return lr * decay(step - warmup)

    return schedule
