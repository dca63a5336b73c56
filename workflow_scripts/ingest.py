"""Ingest a dataset's raw files into validated Parquet."""

from distillery.data.ingest import ingest
from distillery.io import write_json
from distillery.workflow import run_script


def _set_keys(cfg: dict) -> dict:
    # unset (null) keys are left out, so the readers' own defaults apply
    return {k: _set_keys(v) if isinstance(v, dict) else v for k, v in cfg.items()
            if v is not None}


def main(snakemake) -> None:
    paths = [str(p) for p in snakemake.input]
    summary = ingest(paths, _set_keys(snakemake.params.data.as_dict()), snakemake.output.frames)
    summary = {"dataset": snakemake.wildcards.dataset, "sources": paths, **summary}
    write_json(snakemake.output.summary, summary)
    print(f"ingested {summary['frames']} frames from {len(paths)} file(s)")


run_script(main, snakemake)
