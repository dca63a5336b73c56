"""safetensors files: named torch tensors plus one JSON metadata object in the header, written
and read without pickle (classifier models and the arrays of torch training checkpoints)."""

from __future__ import annotations

import json
import struct
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load as tensors_from_bytes
from safetensors.torch import save as tensors_to_bytes

from distillery.array_files import refuse_pickle
from distillery.errors import InputError, reason
from distillery.io import atomic_write

METADATA_KEY = "distillery"


def save_tensors(path: str | Path, tensors: Mapping[str, torch.Tensor],
                 metadata: Mapping[str, Any] | None = None) -> None:
    """Write tensors (copied to the CPU) and `metadata` (JSON) atomically."""
    # safetensors refuses tensors that share memory (a state dict and its best-epoch copy)
    own = {key: value.detach().cpu().contiguous().clone() for key, value in tensors.items()}
    header = None if metadata is None else {METADATA_KEY: json.dumps(dict(metadata))}
    data = tensors_to_bytes(own, metadata=header)
    with atomic_write(path) as handle:
        handle.write(data)


def load_tensors(path: str | Path, expected: str, fix: str
                 ) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Tensors and metadata of a file from `save_tensors`; a pickle, a missing, damaged or
    foreign file raises a one-line InputError naming the file."""
    def unreadable(exc: BaseException) -> InputError:
        return InputError(path, "file", f"an unreadable safetensors file ({reason(exc)})",
                          expected, fix=fix)

    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise unreadable(exc) from None
    # a header length can start with the bytes that mark a pickle (0x80, protocol 2-5):
    # only a file without the header's opening brace is looked at as a pickle
    if data[8:9] != b"{":
        refuse_pickle(path, "file", expected, fix)
    try:
        # header: little-endian u64 length, then JSON with the optional string map __metadata__
        (length,) = struct.unpack("<Q", data[:8])
        header = json.loads(data[8:8 + length])
        tensors = tensors_from_bytes(data)
        text = (header.get("__metadata__") or {}).get(METADATA_KEY, "{}")
        metadata = json.loads(text)
        if not isinstance(metadata, dict):
            raise ValueError(f"metadata is a JSON {type(metadata).__name__}, not an object")
    # safetensors, struct and json fail on damaged files with many exception types
    except Exception as exc:
        raise unreadable(exc) from None
    return tensors, metadata
