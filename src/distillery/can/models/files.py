"""Reading torch files safely (tensors and plain values only) with a readable error."""

from __future__ import annotations

import pickle
import zipfile
from pathlib import Path
from typing import Any

import torch

from distillery.errors import InputError, reason


def read_torch_file(path: str | Path, expected: str, fix: str | None = None) -> Any:
    """`torch.load(path, weights_only=True)`; a missing, truncated or foreign file raises an
    InputError naming the file, what it held and what was expected."""
    try:
        return torch.load(path, weights_only=True)
    except (OSError, RuntimeError, EOFError, pickle.UnpicklingError, zipfile.BadZipFile) as exc:
        raise InputError(path, "file", f"an unreadable torch file ({reason(exc)})", expected,
                         fix=fix) from None
