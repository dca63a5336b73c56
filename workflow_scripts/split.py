"""Write seeded train/val/test index files for a dataset."""

import pyarrow.parquet as pq

from distillery.data.splits import block_split, random_split, write_splits
from distillery.workflow import run_script


def main(snakemake) -> None:
    cfg = snakemake.params.split
    seed = snakemake.params.seed
    fractions = {k: getattr(cfg, k) for k in ("train", "val", "test")}
    if cfg.strategy == "blocks":
        table = pq.read_table(snakemake.input.frames, columns=["capture"])
        groups = table.column("capture").to_numpy(zero_copy_only=False)
        splits = block_split(groups, fractions, seed, cfg.n_blocks)
    else:
        n = pq.read_metadata(snakemake.input.frames).num_rows
        splits = random_split(n, fractions, seed)
    write_splits(snakemake.output[0], splits, seed=seed, strategy=cfg.strategy)
    print("split sizes: " + ", ".join(f"{k}={len(v)}" for k, v in splits.items()))


run_script(main, snakemake)
