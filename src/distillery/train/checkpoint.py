"""Checkpoints `latest`, `best` and every N epochs: arrays in NPZ or safetensors, the rest JSON.

A checkpoint `{name}` is `{name}.json` (epoch, the state's plain values, the SHA-256 of the
arrays file) beside `{name}-{epoch:04d}.npz` (numpy arrays) or `.safetensors` (torch tensors).
The arrays file is written first under a new name and the JSON last, so a job killed in between
leaves the previous checkpoint whole; superseded arrays files are deleted afterwards.

The state is a tree of dicts, lists and tuples (read back as lists), JSON values and arrays;
callers convert device arrays first so that a checkpoint loads without the accelerator it was
written on. Nothing in a checkpoint can name a type to build: optimizer states with types of
their own (optax NamedTuples) are filled back into a freshly initialised template, and a
numpy generator is restored from its JSON state by `restore_generator`.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from distillery.array_files import NO_PICKLES, PICKLE_FOUND, load_arrays, refuse_pickle, save_arrays
from distillery.errors import InputError, reason
from distillery.io import atomic_write, write_json

FORMAT = "distillery-checkpoint"
EXPECTED = "a checkpoint written by CheckpointManager (JSON beside its arrays file)"
ARRAY, INT_KEYS = "$array", "$int_keys"
BIT_GENERATORS = {cls.__name__: cls for cls in (
    np.random.PCG64, np.random.PCG64DXSM, np.random.Philox, np.random.SFC64, np.random.MT19937)}


class _Npz:
    suffix = ".npz"

    @staticmethod
    def is_array(value: Any) -> bool:
        return isinstance(value, np.ndarray | np.generic)

    write = staticmethod(save_arrays)
    read = staticmethod(load_arrays)


class _Safetensors:
    suffix = ".safetensors"

    @staticmethod
    def is_array(value: Any) -> bool:
        import torch  # torch and safetensors only where torch models train

        return isinstance(value, torch.Tensor)

    @staticmethod
    def write(path: Path, arrays: Mapping[str, Any]) -> None:
        from distillery.train.tensor_files import save_tensors

        save_tensors(path, arrays)

    @staticmethod
    def read(path: Path, expected: str, fix: str) -> dict[str, Any]:
        from distillery.train.tensor_files import load_tensors

        return load_tensors(path, expected, fix)[0]


def encode(state: Any, is_array: Callable[[Any], bool]) -> tuple[Any, dict[str, Any]]:
    """(JSON tree, arrays): each array is replaced by `{"$array": key}`, its key the
    '/'-joined path to it; dicts with integer keys (torch optimizer states) are marked."""
    arrays: dict[str, Any] = {}

    def walk(value: Any, path: tuple[str, ...]) -> Any:
        if is_array(value):
            key = "/".join(path)
            if key in arrays:
                raise ValueError(f"checkpoint state: two arrays at {key!r}")
            arrays[key] = value
            return {ARRAY: key}
        if isinstance(value, Mapping):
            if value and all(isinstance(k, int) and not isinstance(k, bool) for k in value):
                return {INT_KEYS: {str(k): walk(v, (*path, str(k))) for k, v in value.items()}}
            if not all(isinstance(k, str) and not k.startswith("$") for k in value):
                raise ValueError(f"checkpoint state at {'/'.join(path)!r}: keys must be "
                                 "strings not starting with '$', or all integers")
            return {k: walk(v, (*path, k)) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [walk(v, (*path, str(i))) for i, v in enumerate(value)]
        return value

    return walk(state, ()), arrays


def decode(tree: Any, arrays: Mapping[str, Any], source: Path) -> Any:
    """The state of `encode` with its arrays back in place; every array must be used once."""
    used: set[str] = set()

    def bad(found: str) -> InputError:
        return InputError(source, "checkpoint", found, EXPECTED,
                          fix=f"delete {source} to start that run afresh")

    def walk(value: Any) -> Any:
        if isinstance(value, dict):
            if set(value) == {ARRAY}:
                key = value[ARRAY]
                if not isinstance(key, str) or key not in arrays or key in used:
                    raise bad(f"a reference to array {key!r} that its arrays file lacks")
                used.add(key)
                return arrays[key]
            if set(value) == {INT_KEYS} and isinstance(value[INT_KEYS], dict):
                items = value[INT_KEYS].items()
                if not all(re.fullmatch(r"-?[0-9]+", k) for k, _ in items):
                    raise bad("a non-integer key in an integer-keyed mapping")
                return {int(k): walk(v) for k, v in items}
            return {k: walk(v) for k, v in value.items()}
        if isinstance(value, list):
            return [walk(v) for v in value]
        return value

    state = walk(tree)
    if used != set(arrays):
        raise bad(f"{len(set(arrays) - used)} arrays that the JSON does not name")
    return state


def restore_generator(state: Any, source: str | Path) -> np.random.Generator:
    """A numpy Generator from `generator.bit_generator.state` (plain JSON values)."""
    try:
        bit_generator = BIT_GENERATORS[state["bit_generator"]]()
        bit_generator.state = state
    # a damaged state fails as a missing key, a wrong type or a value out of range
    except (KeyError, TypeError, ValueError) as exc:
        raise InputError(source, "rng", f"an unusable generator state ({reason(exc)})",
                         f"the state of one of {sorted(BIT_GENERATORS)}",
                         fix=f"delete {source} to start that run afresh") from None
    return np.random.Generator(bit_generator)


def _sha256(path: Path) -> str:
    with open(path, "rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


class CheckpointManager:
    """Keeps `latest`, `best` and `epoch_NNNN` (every `every` epochs) in a folder; arrays are
    numpy arrays in NPZ files, or with `tensors` torch tensors in safetensors files."""

    def __init__(self, directory: str | Path, every: int = 0, tensors: bool = False) -> None:
        self.directory = Path(directory)
        self.every = int(every)
        self.store = _Safetensors if tensors else _Npz

    def path(self, name: str) -> Path:
        """The JSON file of a checkpoint (written last: it marks the checkpoint complete)."""
        return self.directory / f"{name}.json"

    def _arrays_name(self, name: str, epoch: int) -> str:
        return f"{name}-{epoch:04d}{self.store.suffix}"

    def save(self, state: Mapping[str, Any], epoch: int, is_best: bool = False) -> None:
        """Write `latest` (and `best`, and `epoch_NNNN` when due) for a finished epoch."""
        tree, arrays = encode(dict(state), self.store.is_array)
        names = ["latest"]
        if is_best:
            names.append("best")
        if self.every > 0 and epoch % self.every == 0:
            names.append(f"epoch_{epoch:04d}")
        first: Path | None = None
        for name in names:
            target = self.directory / self._arrays_name(name, epoch)
            if first is None:
                self.store.write(target, arrays)
                first, digest = target, _sha256(target)
            else:
                with open(first, "rb") as source, atomic_write(target) as handle:
                    shutil.copyfileobj(source, handle)
            write_json(self.path(name), {"format": FORMAT, "epoch": int(epoch),
                                         "arrays": target.name, "sha256": digest, "state": tree})
            for stale in self.directory.glob(f"{name}-*{self.store.suffix}"):
                if stale != target:
                    stale.unlink(missing_ok=True)

    def load(self, name: str) -> tuple[int, Any] | None:
        """(epoch, state) of a checkpoint, or None when it does not exist."""
        path = self.path(name)
        legacy = self.directory / f"{name}.pkl"
        if not path.exists() and legacy.exists():
            raise InputError(legacy, "checkpoint", f"{PICKLE_FOUND} (the checkpoint format "
                             f"before {path.name})", EXPECTED,
                             fix=f"delete {legacy} to start that run afresh ({NO_PICKLES})")
        if not path.exists():
            return None
        fix = f"delete {path} to start that run afresh"
        refuse_pickle(path, "checkpoint", EXPECTED, fix)
        try:
            payload = json.loads(path.read_text(encoding="utf-8"))
        # RecursionError: JSON nested deeper than Python's stack allows
        except (OSError, ValueError, RecursionError) as exc:
            raise InputError(path, "checkpoint", f"unreadable JSON ({reason(exc)})", EXPECTED,
                             fix=fix) from None
        pattern = re.escape(name) + r"-[0-9]{4,}" + re.escape(self.store.suffix)
        if not (isinstance(payload, dict) and payload.get("format") == FORMAT
                and type(payload.get("epoch")) is int and isinstance(payload.get("state"), dict)
                and isinstance(payload.get("sha256"), str)
                and re.fullmatch(pattern, str(payload.get("arrays")))):
            raise InputError(path, "checkpoint", "JSON without the format, epoch, state and "
                             f"arrays file ({name}-NNNN{self.store.suffix}) of a checkpoint",
                             EXPECTED, fix=fix)
        arrays_path = self.directory / payload["arrays"]
        if not arrays_path.exists():
            raise InputError(path, "arrays", f"a reference to the missing {arrays_path.name}",
                             EXPECTED, fix=fix)
        if _sha256(arrays_path) != payload["sha256"]:
            raise InputError(path, "sha256", f"a digest that differs from {arrays_path.name}'s",
                             EXPECTED, fix=fix)
        arrays = self.store.read(arrays_path, EXPECTED, fix)  # refuses pickles
        return payload["epoch"], decode(payload["state"], arrays, path)

    def load_latest(self) -> tuple[int, Any] | None:
        return self.load("latest")

    def load_best(self) -> tuple[int, Any] | None:
        return self.load("best")
