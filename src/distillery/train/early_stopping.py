"""Early stopping on a validation metric (lower is better)."""

from __future__ import annotations

import math
from typing import Any


class EarlyStopping:
    """Stop after `patience` updates without an improvement larger than `min_delta`."""

    def __init__(self, patience: int, min_delta: float = 0.0) -> None:
        self.patience = int(patience)
        self.min_delta = float(min_delta)
        self.best = math.inf
        self.bad_updates = 0

    def update(self, value: float) -> bool:
        """Record one validation value; return True when it is a new best."""
        value = float(value)
        if value < self.best - self.min_delta:
            self.best = value
            self.bad_updates = 0
            return True
        self.bad_updates += 1
        return False

    @property
    def should_stop(self) -> bool:
        return self.patience > 0 and self.bad_updates >= self.patience

    def state_dict(self) -> dict[str, Any]:
        return {"best": self.best, "bad_updates": self.bad_updates}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.best = float(state["best"])
        self.bad_updates = int(state["bad_updates"])
