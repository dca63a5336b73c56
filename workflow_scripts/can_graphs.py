"""CAN frames -> window graphs per split (NPZ files), the windows table and graph metadata."""

from distillery.can.dataset import SPLITS, build_all, save_graphs
from distillery.data.can import read_can_frames
from distillery.data.splits import read_splits
from distillery.io import atomic_path, write_json
from distillery.workflow import run_script


def main(snakemake) -> None:
    spec = snakemake.params.windows
    table = read_can_frames(snakemake.input.frames)
    splits = read_splits(snakemake.input.splits)
    graphs, windows, meta = build_all(table, splits, spec, snakemake.input.frames)
    for split in SPLITS:
        save_graphs(snakemake.output[split], graphs[split])
    with atomic_path(snakemake.output.windows) as tmp:
        windows.to_parquet(tmp, index=False)
    counts = windows.groupby(["split", "label"]).size()
    meta["counts"] = {s: counts[s].to_dict() for s in SPLITS}
    write_json(snakemake.output.meta, meta)
    for split in SPLITS:
        print(f"{split}: {meta['counts'][split]}")


run_script(main, snakemake)
