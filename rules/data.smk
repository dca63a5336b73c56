# Raw data -> validated Parquet in internal units -> seeded split index files -> data summary.
# The embedded default data is generated deterministically from the seed (nothing downloaded).


rule generate_frames:
    """Reference frames with energies and forces: ASE EMT alloy MD, a CG bead chain with known
    parameters, GFN2-xTB molecular MD (tblite) or OpenMM peptide MD."""
    input:
        generator_inputs,
    output:
        npz="data/raw/{dataset}.npz",
        truth="data/raw/{dataset}_truth.json",
    params:
        **settings_params(
            generate=lambda wc: dataset_cfg(wc.dataset).generate,
            temperature=lambda wc: dataset_cfg(wc.dataset).temperature,
            seed=lambda wc: dataset_seed(wc.dataset),
        ),
        cache_dir=JAX_CACHE,
    log:
        log_path("generate_frames"),
    benchmark:
        benchmark_path("generate_frames")
    conda:
        conda_env("data")
    script:
        "../workflow_scripts/generate_frames.py"


rule generate_can_capture:
    """One CAN capture of one generated vehicle in the Car-Hacking CSV layout with injected
    attack bursts."""
    output:
        "data/raw/{dataset}/{capture}.csv",
    params:
        **settings_params(
            capture=lambda wc: dataset_cfg(wc.dataset).generate.capture_specs()[wc.capture],
            seed=lambda wc: dataset_seed(wc.dataset),
        ),
    log:
        log_path("generate_can_capture_{capture}"),
    benchmark:
        benchmark_path("generate_can_capture_{capture}")
    conda:
        conda_env("data")
    script:
        "../workflow_scripts/generate_can_capture.py"


rule ingest:
    """Harmonise field names and units, validate with pandera, write Parquet atomically."""
    input:
        raw_files,
    output:
        frames=FRAMES,
        summary=DATA_SUMMARY,
    params:
        **settings_params(data=lambda wc: dataset_cfg(wc.dataset).data()),
    threads: 2  # CAN captures are parsed by two threads
    log:
        log_path("ingest"),
    benchmark:
        benchmark_path("ingest")
    conda:
        conda_env("data")
    script:
        "../workflow_scripts/ingest.py"


rule split:
    """Seeded train/val/test index files (random, or contiguous time blocks per capture)."""
    input:
        frames=FRAMES,
    output:
        SPLITS,
    params:
        **settings_params(split=lambda wc: dataset_cfg(wc.dataset).split),
        seed=lambda wc: dataset_seed(wc.dataset),
    log:
        log_path("split"),
    benchmark:
        benchmark_path("split")
    conda:
        conda_env("data")
    script:
        "../workflow_scripts/split.py"


rule data_summary:
    """One table row per dataset: frames, atoms or CAN IDs, labels, split sizes."""
    input:
        summaries=expand(DATA_SUMMARY, dataset=DATASETS),
        splits=expand(SPLITS, dataset=DATASETS),
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
        conda_env("data")
    script:
        "../workflow_scripts/data_summary.py"
