"""Seeded train/val/test index files; the data itself is never reordered."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np

from distillery.errors import InputError
from distillery.io import read_json, write_json

SPLITS = ("train", "val", "test")


def _counts(n: int, fractions: Mapping[str, float]) -> dict[str, int]:
    val = int(round(n * fractions["val"]))
    test = int(round(n * fractions["test"]))
    if n - val - test < 1:
        raise InputError("config", "split", f"{n} items", "enough for a non-empty train split")
    return {"train": n - val - test, "val": val, "test": test}


def random_split(n: int, fractions: Mapping[str, float], seed: int) -> dict[str, np.ndarray]:
    """Shuffle indices with `seed` and cut them by the fractions; each split is sorted."""
    counts = _counts(n, fractions)
    order = np.random.default_rng(seed).permutation(n)
    cuts = np.cumsum([counts[s] for s in SPLITS])[:-1]
    return {s: np.sort(part) for s, part in zip(SPLITS, np.split(order, cuts), strict=True)}


def block_split(
    groups: np.ndarray, fractions: Mapping[str, float], seed: int, n_blocks: int
) -> dict[str, np.ndarray]:
    """Cut each group (e.g. a CAN capture, rows in time order) into `n_blocks` contiguous blocks
    and assign blocks to splits, so that a split never interleaves with another inside a block."""
    rng = np.random.default_rng(seed)
    out: dict[str, list[np.ndarray]] = {s: [] for s in SPLITS}
    for group in dict.fromkeys(groups.tolist()):
        rows = np.flatnonzero(groups == group)
        blocks = np.array_split(rows, min(n_blocks, len(rows)))
        counts = _counts(len(blocks), fractions)
        order = rng.permutation(len(blocks))
        labels = np.repeat(SPLITS, [counts[s] for s in SPLITS])
        for block_index, split in zip(order, labels, strict=True):
            out[split].append(blocks[block_index])
    return {s: np.sort(np.concatenate(parts)) if parts else np.array([], np.int64)
            for s, parts in out.items()}


def write_splits(path: str | Path, splits: Mapping[str, np.ndarray], **meta: object) -> None:
    write_json(path, {**meta, **{s: np.asarray(splits[s]).tolist() for s in SPLITS}})


def read_splits(path: str | Path) -> dict[str, np.ndarray]:
    data = read_json(path)
    missing = [s for s in SPLITS if s not in data]
    if missing:
        raise InputError(path, ",".join(missing), "missing", f"keys {list(SPLITS)}",
                         fix="rerun the split rule")
    return {s: np.asarray(data[s], dtype=np.int64) for s in SPLITS}
