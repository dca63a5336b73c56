# Config validation, dataset lookups and the registry of final targets per track.
from pathlib import Path

from snakemake.utils import validate

validate(config, schema="../config/schemas/config.schema.yaml")

RESULTS = config["results"]
DATASETS = config["datasets"]
_TRACK_TARGETS = {"forcefield": [], "coarse_grained": [], "classifier": []}


wildcard_constraints:
    dataset="|".join(DATASETS) or "NONE",
    capture="[A-Za-z0-9_-]+",


def dataset_cfg(name):
    return DATASETS[name]


def dataset_seed(name):
    return DATASETS[name].get("seed", config["seed"])


def datasets_for(track):
    return [name for name, cfg in DATASETS.items() if cfg["track"] == track]


def register_targets(track, *patterns):
    """Rule files add their final outputs (patterns with {dataset}) for `rule all`."""
    _TRACK_TARGETS[track].extend(patterns)


def all_targets():
    targets = [f"{RESULTS}/data_summary.csv"]
    for track, patterns in _TRACK_TARGETS.items():
        for name in datasets_for(track):
            targets += [p.format(dataset=name) for p in patterns]
    return targets


def raw_files(wildcards):
    """Raw inputs of a dataset: generated under data/raw/ or the configured paths."""
    cfg = dataset_cfg(wildcards.dataset)
    generate = cfg.get("generate")
    if generate is None:
        raw = cfg["raw"]
        items = [raw] if isinstance(raw, (str, dict)) else raw
        return [item if isinstance(item, str) else item["path"] for item in items]
    if generate["kind"] == "can_bus":
        captures = generate.get("captures", ["dos", "fuzzy", "spoofing"])
        return [f"data/raw/{wildcards.dataset}/{c}.csv" for c in captures]
    return [f"data/raw/{wildcards.dataset}.npz"]


def log_path(rule_name):
    return f"{RESULTS}/{{dataset}}/logs/{rule_name}.log"


def benchmark_path(rule_name):
    return f"{RESULTS}/{{dataset}}/benchmarks/{rule_name}.tsv"
