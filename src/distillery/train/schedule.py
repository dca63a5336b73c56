"""Learning rate per optimizer step: linear warmup, then cosine/exponential/step/constant decay.

Pure Python on purpose, so optax (`optax.inject_hyperparams` or a callable schedule) and
`torch.optim.lr_scheduler.LambdaLR` can share one definition.
"""

from __future__ import annotations

import math
from collections.abc import Callable

from distillery.train.settings import ScheduleSettings


def make_schedule(cfg: ScheduleSettings, decay_steps: int = 1000) -> Callable[[int], float]:
    """Build `lr(step)`: linear warmup over `warmup_steps`, then `kind` decay.

    Cosine runs over `cfg.decay_steps` (or `decay_steps`, the rest of the run, when unset) down
    to `final_lr_ratio` of `lr`; exponential multiplies by `decay_rate` every `decay_steps`;
    step multiplies by `gamma` every `step_size` steps after warmup.
    """
    kind, lr, warmup = cfg.kind, float(cfg.lr), int(cfg.warmup_steps)
    decay_steps = max(int(cfg.decay_steps or decay_steps), 1)
    final_ratio, decay_rate = float(cfg.final_lr_ratio), float(cfg.decay_rate)
    step_size, gamma = int(cfg.step_size), float(cfg.gamma)

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
