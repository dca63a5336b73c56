"""The data steps, one function per rule of `rules/data.smk`, callable without Snakemake."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from distillery.data.ingest import ingest as ingest_files
from distillery.data.settings import DataSettings, SplitSettings
from distillery.data.splits import block_split, random_split, read_splits, write_splits
from distillery.errors import InputError
from distillery.io import atomic_path, read_json, write_json


def _set_keys(cfg: dict[str, Any]) -> dict[str, Any]:
    # unset (null) keys are left out, so the readers' own defaults apply
    return {k: _set_keys(v) if isinstance(v, dict) else v for k, v in cfg.items()
            if v is not None}


def ingest(dataset: str, settings: DataSettings, paths: Sequence[str], frames: str,
           summary: str) -> None:
    """`ingest`: raw files harmonised, validated and written as one Parquet file; generated
    CAN captures carry their vehicle and attack tags as `raw:` entries would."""
    cfg = _set_keys(settings.as_dict())
    if settings.generate is not None and settings.generate.kind == "can_bus":
        specs = settings.generate.capture_specs()
        cfg["raw"] = [_set_keys(specs[Path(p).stem].entry(str(p), Path(p).stem).as_dict())
                      for p in paths]
    result = ingest_files(list(paths), cfg, frames)
    write_json(summary, {"dataset": dataset, "sources": list(paths), **result})
    print(f"ingested {result['frames']} frames from {len(paths)} file(s)")


def _column(frames: str, name: str) -> np.ndarray:
    return pq.read_table(frames, columns=[name]).column(name).to_numpy(zero_copy_only=False)


def test_vehicle_rows(frames: str, vehicles: Sequence[str]) -> np.ndarray:
    """Rows of the frames of `vehicles` (CAN `vehicle` column); a vehicle without frames is
    an error, as a misspelt name would let a model train on the vehicle meant."""
    if not vehicles:
        return np.zeros(pq.read_metadata(frames).num_rows, dtype=bool)
    if "vehicle" not in pq.read_schema(frames).names:
        raise InputError(frames, "vehicle", "no such column", "CAN frames with vehicle tags",
                         fix="leave split.test_vehicles out for this dataset")
    found = _column(frames, "vehicle")
    missing = sorted(set(vehicles) - set(found.tolist()))
    if missing:
        raise InputError(frames, "vehicle", f"no frames of split.test_vehicles {missing}",
                         f"vehicles among {sorted(set(found.tolist()))}",
                         fix="tag the captures with `vehicle:` or fix split.test_vehicles")
    return np.isin(found, list(vehicles))


def split(settings: SplitSettings, frames: str, seed: int, output: str) -> None:
    """`split`: seeded index files; CAN captures split into contiguous time blocks. The frames
    of `test_vehicles` all go to the test split, the fractions split the others."""
    fractions = {k: getattr(settings, k) for k in ("train", "val", "test")}
    held = test_vehicle_rows(frames, settings.test_vehicles)
    rest = np.flatnonzero(~held)
    if settings.strategy == "blocks":
        parts = block_split(_column(frames, "capture")[rest], fractions, seed, settings.n_blocks)
    else:
        parts = random_split(len(rest), fractions, seed)
    splits = {name: rest[part] for name, part in parts.items()}
    splits["test"] = np.union1d(splits["test"], np.flatnonzero(held))
    write_splits(output, splits, seed=seed, strategy=settings.strategy,
                 test_vehicles=list(settings.test_vehicles))
    print("split sizes: " + ", ".join(f"{k}={len(v)}" for k, v in splits.items()))


def summarise(datasets: Sequence[str], summaries: Sequence[str], splits: Sequence[str],
              output: str) -> None:
    """`data_summary`: one row per dataset: frames, split sizes and what ingest reported."""
    rows = []
    for name, summary_path, split_path in zip(datasets, summaries, splits, strict=True):
        summary = read_json(summary_path)
        rows.append({
            "dataset": name,
            "frames": summary["frames"],
            **{f"n_{k}": len(v) for k, v in read_splits(split_path).items()},
            "details": "; ".join(f"{k}={v}" for k, v in summary.items()
                                 if k not in ("dataset", "frames", "sources")),
        })
    with atomic_path(output) as tmp:
        pd.DataFrame(rows).to_csv(tmp, index=False)
