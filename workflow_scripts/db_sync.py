"""Load every registered metrics record into the project database; write what was loaded."""

from distillery.db.sync import sync_metrics, write_manifest
from distillery.workflow import run_script


def main(snakemake) -> None:
    params = snakemake.params
    manifest = sync_metrics(params.db, params.results, list(snakemake.input))
    write_manifest(snakemake.output[0], manifest)
    models = sum(r.models for r in manifest.records)
    print(f"{params.db}: {len(manifest.records)} metrics records, {models} models loaded")


run_script(main, snakemake)
