"""Checkpoints `latest`, `best` and every N epochs, written atomically as pickles.

A checkpoint is whatever picklable state the loop needs to resume exactly (parameters,
optimizer and schedule state, RNG, epoch, early stopping, ...); callers convert device arrays
to numpy first so that a checkpoint loads without the accelerator it was written on.
"""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

from distillery.errors import InputError, reason
from distillery.io import atomic_write


class CheckpointManager:
    """Keeps `latest.pkl`, `best.pkl` and `epoch_NNNN.pkl` (every `every` epochs) in a folder."""

    def __init__(self, directory: str | Path, every: int = 0) -> None:
        self.directory = Path(directory)
        self.every = int(every)

    def path(self, name: str) -> Path:
        return self.directory / f"{name}.pkl"

    def save(self, state: Any, epoch: int, is_best: bool = False) -> None:
        """Write `latest` (and `best`, and `epoch_NNNN` when due) for a finished epoch."""
        payload = pickle.dumps({"epoch": int(epoch), "state": state},
                               protocol=pickle.HIGHEST_PROTOCOL)
        names = ["latest"]
        if is_best:
            names.append("best")
        if self.every > 0 and epoch % self.every == 0:
            names.append(f"epoch_{epoch:04d}")
        for name in names:
            with atomic_write(self.path(name)) as handle:
                handle.write(payload)

    def load(self, name: str) -> tuple[int, Any] | None:
        """(epoch, state) of a checkpoint, or None when it does not exist."""
        path = self.path(name)
        if not path.exists():
            return None
        fix = f"delete {path} to start that run afresh"
        try:
            with open(path, "rb") as handle:
                payload = pickle.load(handle)
        # damaged pickles fail with almost any exception type, depending on where they break
        except Exception as exc:
            raise InputError(path, "checkpoint", f"an unreadable pickle ({reason(exc)})",
                             "a checkpoint written by CheckpointManager", fix=fix) from None
        if not (isinstance(payload, dict) and isinstance(payload.get("epoch"), int)
                and isinstance(payload.get("state"), dict)):
            raise InputError(path, "checkpoint", f"a pickled {type(payload).__name__} without "
                             "an integer epoch and a state dict",
                             "a checkpoint written by CheckpointManager", fix=fix)
        return payload["epoch"], payload["state"]

    def load_latest(self) -> tuple[int, Any] | None:
        return self.load("latest")

    def load_best(self) -> tuple[int, Any] | None:
        return self.load("best")
