"""Collect per-dataset ingest summaries and split sizes into one table."""

import pandas as pd

from distillery.data.splits import read_splits
from distillery.io import atomic_path, read_json
from distillery.workflow import run_script


def main(snakemake) -> None:
    rows = []
    for name, summary_path, split_path in zip(
        snakemake.params.datasets, snakemake.input.summaries, snakemake.input.splits, strict=True
    ):
        summary = read_json(summary_path)
        splits = read_splits(split_path)
        rows.append({
            "dataset": name,
            "frames": summary["frames"],
            **{f"n_{k}": len(v) for k, v in splits.items()},
            "details": "; ".join(
                f"{k}={v}" for k, v in summary.items()
                if k not in ("dataset", "frames", "sources")
            ),
        })
    with atomic_path(snakemake.output[0]) as tmp:
        pd.DataFrame(rows).to_csv(tmp, index=False)


run_script(main, snakemake)
