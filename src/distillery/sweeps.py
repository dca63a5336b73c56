"""Sweeps: named variants of a dataset's settings, each addressed as its own dataset.

    sweeps:
      lr:                                   # the sweep's name
        dataset: md                         # the dataset whose entry it varies
        grid:                               # dotted keys of that entry -> values (the product)
          forcefield.student.train.lr: [0.001, 0.003]
        seeds: [0, 1, 2]                    # repeats of every grid point

gives the variants `lr0_seed0` ... `lr1_seed2`, built as the datasets `md--lr0_seed0` ...:
a variant shares the base dataset's frames and splits (linked, never re-ingested) and has its
own track outputs, so a rerun rebuilds only the variants whose settings changed; a track may
share more (the force-field variants read the teacher and distillation set of the first
dataset of the family whose settings of them and seed are the same). The metrics
record's `variant` names the variant; the leaderboard folds the `_seed<k>` repeats of one grid
point into mean ± std.
"""

from __future__ import annotations

import itertools
import os
import re
import shutil
from pathlib import Path
from typing import Any

from pydantic import Field

from distillery.base_settings import Settings
from distillery.io import atomic_path

SEPARATOR = "--"  # `<dataset>--<variant>`; dataset names may not contain it
_SEED = re.compile(r"^(?P<point>.+)_seed(?P<seed>-?\d+)$")


class SweepSettings(Settings):
    """One entry under `sweeps:`."""

    dataset: str
    """The configured dataset whose entry the sweep varies."""
    grid: dict[str, list[Any]] = Field(default_factory=dict)
    """Dotted key inside the dataset's entry -> the values to try; variants are the
    product."""
    seeds: list[int] = Field(default_factory=list)
    """Each grid point once per seed (written to `seed_keys`); empty: once, with its own
    seed."""
    seed_keys: list[str] = Field(["seed"], min_length=1)
    """Dotted keys of the dataset's entry that each seed is written to. `seed`: the dataset's
    seed, which every seeded step reads; `forcefield.student.train.seed`: the student's alone
    (its baseline takes its student's seed), so the repeats share the teacher and the
    distillation set and retrain only what the seed changes."""


def nested(dotted: str, value: Any) -> dict[str, Any]:
    """`("a.b", 1)` -> `{"a": {"b": 1}}`: one override as a block to merge over an entry."""
    out: Any = value
    for part in reversed(dotted.split(".")):
        out = {part: out}
    return out


def variants(name: str, sweep: SweepSettings) -> dict[str, dict[str, Any]]:
    """{variant name: {dotted key: value}} overrides of the dataset's entry, in grid order
    then seed order.

    Grid points are numbered `<sweep><i>`; a sweep without a grid is just `<sweep>`; repeats
    add `_seed<k>`."""
    keys = list(sweep.grid)
    points = list(itertools.product(*(sweep.grid[k] for k in keys)))
    out: dict[str, dict[str, Any]] = {}
    for i, values in enumerate(points):
        point = f"{name}{i}" if keys else name
        overrides = dict(zip(keys, values, strict=True))
        for seed in sweep.seeds or [None]:
            variant = point if seed is None else f"{point}_seed{seed}"
            out[variant] = (overrides if seed is None
                            else {**overrides, **dict.fromkeys(sweep.seed_keys, seed)})
    return out


def variant_dataset(dataset: str, variant: str) -> str:
    return f"{dataset}{SEPARATOR}{variant}"


def split_variant(name: str) -> tuple[str, str]:
    """`md--lr0_seed1` -> ("md", "lr0_seed1"); a plain dataset -> (name, "default")."""
    dataset, sep, variant = name.partition(SEPARATOR)
    return (dataset, variant) if sep else (name, "default")


def repeat_of(variant: str) -> tuple[str, int | None]:
    """`lr0_seed1` -> ("lr0", 1): the grid point a variant repeats, and its seed."""
    match = _SEED.match(variant)
    return (match["point"], int(match["seed"])) if match else (variant, None)



def link_file(source: str | Path, target: str | Path) -> None:
    """`target` as a hard link to `source` (the same bytes, no copy), or a copy across file
    systems; replaced atomically."""
    target = Path(target)
    with atomic_path(target) as tmp:
        tmp.unlink(missing_ok=True)
        try:
            os.link(source, tmp)
        except OSError:
            shutil.copy2(source, tmp)
