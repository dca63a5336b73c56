"""Execute the analytics notebook with papermill and render it to HTML."""

from distillery.db.sync import read_manifest
from distillery.report.notebook import run_notebook
from distillery.workflow import run_script


def main(snakemake) -> None:
    inp, params = snakemake.input, snakemake.params
    run_notebook(
        inp.notebook, snakemake.output.ipynb, snakemake.output.html,
        parameters={
            "results_dir": params.results,
            "datasets": params.datasets,
            "db_path": params.db,
            "sources": [r.source for r in read_manifest(inp.db_sync).records],
            "exclude_rules": params.exclude_rules,
            "run_config_path": inp.run_config,
            "compare_config_path": params.compare_with,
        },
        kernel=params.kernel,
    )


run_script(main, snakemake)
