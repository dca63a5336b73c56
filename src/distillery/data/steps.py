"""The data steps, one function per rule of `rules/data.smk`, callable without Snakemake."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pandas as pd
import pyarrow.parquet as pq

from distillery.data.ingest import ingest as ingest_files
from distillery.data.settings import DataSettings, SplitSettings
from distillery.data.splits import block_split, random_split, read_splits, write_splits
from distillery.io import atomic_path, read_json, write_json


def _set_keys(cfg: dict[str, Any]) -> dict[str, Any]:
    # unset (null) keys are left out, so the readers' own defaults apply
    return {k: _set_keys(v) if isinstance(v, dict) else v for k, v in cfg.items()
            if v is not None}


def ingest(dataset: str, settings: DataSettings, paths: Sequence[str], frames: str,
           summary: str) -> None:
    """`ingest`: raw files harmonised, validated and written as one Parquet file."""
    result = ingest_files(list(paths), _set_keys(settings.as_dict()), frames)
    write_json(summary, {"dataset": dataset, "sources": list(paths), **result})
    print(f"ingested {result['frames']} frames from {len(paths)} file(s)")


def split(settings: SplitSettings, frames: str, seed: int, output: str) -> None:
    """`split`: seeded index files; CAN captures split into contiguous time blocks."""
    fractions = {k: getattr(settings, k) for k in ("train", "val", "test")}
    if settings.strategy == "blocks":
        table = pq.read_table(frames, columns=["capture"])
        groups = table.column("capture").to_numpy(zero_copy_only=False)
        splits = block_split(groups, fractions, seed, settings.n_blocks)
    else:
        splits = random_split(pq.read_metadata(frames).num_rows, fractions, seed)
    write_splits(output, splits, seed=seed, strategy=settings.strategy)
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
