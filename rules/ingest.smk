# Raw files -> validated Parquet in internal units; seeded split index files; data summary.


rule ingest:
    """Harmonise field names and units, validate with pandera, write Parquet atomically."""
    input:
        raw_files,
    output:
        frames=f"{RESULTS}/{{dataset}}/data/frames.parquet",
        summary=f"{RESULTS}/{{dataset}}/data/summary.json",
    params:
        cfg=lambda wc: dataset_cfg(wc.dataset),
    log:
        log_path("ingest"),
    benchmark:
        benchmark_path("ingest")
    conda:
        "../envs/data.yaml"
    script:
        "../workflow_scripts/ingest.py"


rule split:
    """Seeded train/val/test index files (random, or contiguous time blocks per capture)."""
    input:
        frames=rules.ingest.output.frames,
    output:
        f"{RESULTS}/{{dataset}}/data/splits.json",
    params:
        split=lambda wc: dataset_cfg(wc.dataset)["split"],
        seed=lambda wc: dataset_seed(wc.dataset),
        track=lambda wc: dataset_cfg(wc.dataset)["track"],
    log:
        log_path("split"),
    benchmark:
        benchmark_path("split")
    conda:
        "../envs/data.yaml"
    script:
        "../workflow_scripts/split.py"


rule data_summary:
    """One table row per dataset: frames, atoms or CAN IDs, labels, split sizes."""
    input:
        summaries=expand(f"{RESULTS}/{{dataset}}/data/summary.json", dataset=DATASETS),
        splits=expand(f"{RESULTS}/{{dataset}}/data/splits.json", dataset=DATASETS),
    output:
        report(
            f"{RESULTS}/data_summary.csv",
            caption="../report/data_summary.rst",
            category="Data",
            labels={"table": "datasets"},
        ),
    params:
        datasets=list(DATASETS),
    log:
        f"{RESULTS}/logs/data_summary.log",
    benchmark:
        f"{RESULTS}/benchmarks/data_summary.tsv"
    conda:
        "../envs/data.yaml"
    script:
        "../workflow_scripts/data_summary.py"
