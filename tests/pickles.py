"""Malicious pickles for the refusal tests: loading one would create a marker file."""

from __future__ import annotations

import pickle
from pathlib import Path


class MarkerPayload:
    """Unpickling calls `Path(marker).touch()`: proof that a loader ran code from the file."""

    def __init__(self, marker: Path) -> None:
        self.marker = Path(marker)

    def __reduce__(self):
        return Path.touch, (self.marker,)


def malicious_pickle(marker: Path) -> bytes:
    return pickle.dumps(MarkerPayload(marker), protocol=4)


def malicious_torch_file(path: Path, marker: Path) -> None:
    """A `torch.save` zip archive whose data.pkl runs the payload (a legacy .pt file)."""
    import torch

    torch.save({"state_dict": MarkerPayload(marker)}, path)
