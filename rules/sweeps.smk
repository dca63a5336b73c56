# Sweep variants (`sweeps:` in the config) are datasets named `<dataset>--<variant>`: they
# share the base dataset's ingested frames and splits through links, never re-ingesting.


ruleorder: sweep_data > ingest
ruleorder: sweep_data > split


rule sweep_data:
    """A sweep variant's frames and splits: hard links to its base dataset's files."""
    input:
        frames=base_data(FRAMES),
        splits=base_data(SPLITS),
    output:
        frames=FRAMES,
        splits=SPLITS,
    wildcard_constraints:
        dataset="|".join(VARIANTS) or "NONE",
    params:
        base=lambda wc: SETTINGS.base_dataset(wc.dataset),
    log:
        log_path("sweep_data"),
    benchmark:
        benchmark_path("sweep_data")
    conda:
        conda_env("data")
    script:
        "../workflow_scripts/sweep_data.py"
