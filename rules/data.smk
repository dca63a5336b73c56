# Embedded default data, generated deterministically from the seed (nothing is downloaded).


rule generate_frames:
    """Reference frames with energies and forces (ASE EMT alloy MD, or a CG bead chain)."""
    output:
        npz="data/raw/{dataset}.npz",
        truth="data/raw/{dataset}_truth.json",
    params:
        generate=lambda wc: dataset_cfg(wc.dataset)["generate"],
        temperature=lambda wc: dataset_cfg(wc.dataset).get("temperature", 300.0),
        seed=lambda wc: dataset_seed(wc.dataset),
    log:
        log_path("generate_frames"),
    benchmark:
        benchmark_path("generate_frames")
    conda:
        "../envs/data.yaml"
    script:
        "../workflow_scripts/generate_frames.py"


rule generate_can_capture:
    """One CAN capture in the Car-Hacking CSV layout with injected attack bursts."""
    output:
        "data/raw/{dataset}/{capture}.csv",
    params:
        generate=lambda wc: dataset_cfg(wc.dataset)["generate"],
        seed=lambda wc: dataset_seed(wc.dataset),
    log:
        f"{RESULTS}/{{dataset}}/logs/generate_can_capture_{{capture}}.log",
    benchmark:
        f"{RESULTS}/{{dataset}}/benchmarks/generate_can_capture_{{capture}}.tsv"
    conda:
        "../envs/data.yaml"
    script:
        "../workflow_scripts/generate_can_capture.py"
