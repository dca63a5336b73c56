"""Ingest a dataset's raw files into validated Parquet."""

from distillery.data.ingest import ingest
from distillery.io import write_json
from distillery.workflow import run_script


def main(snakemake) -> None:
    paths = [str(p) for p in snakemake.input]
    summary = ingest(paths, snakemake.params.cfg, snakemake.output.frames)
    summary = {"dataset": snakemake.wildcards.dataset, "sources": paths, **summary}
    write_json(snakemake.output.summary, summary)
    print(f"ingested {summary['frames']} frames from {len(paths)} file(s)")


run_script(main, snakemake)
