# Typed settings built once from the config, shared path patterns, and the registry of final
# targets that `rule all` builds. Every other rule file depends on this one only.
from pathlib import Path

from snakemake.exceptions import WorkflowError

from distillery.base_settings import fingerprint
from distillery.data.generate import shipped_file
from distillery.errors import ConfigError
from distillery.settings import load as load_settings
from distillery.tracks import TRACKS

try:
    SETTINGS = load_settings(config)
except ConfigError as exc:
    raise WorkflowError(str(exc)) from None

RESULTS = SETTINGS.config.results
DATASETS = SETTINGS.datasets
# sweep variants `<dataset>--<variant>`: track rules build them like datasets (rules/sweeps.smk)
VARIANTS = SETTINGS.variants
DATASET_DIR = f"{RESULTS}/{{dataset}}"
FRAMES = f"{DATASET_DIR}/data/frames.parquet"
SPLITS = f"{DATASET_DIR}/data/splits.json"
DATA_SUMMARY = f"{DATASET_DIR}/data/summary.json"
CHECKPOINTS = f"{DATASET_DIR}/checkpoints"
FF_DIR = f"{DATASET_DIR}/forcefield"
EXPORT_DIR = f"{DATASET_DIR}/export"
MD_DIR = f"{DATASET_DIR}/md"
CG_DIR = f"{DATASET_DIR}/priors"
CAN_DIR = f"{DATASET_DIR}/classifier"
ES_DIR = f"{DATASET_DIR}/electrostatics"
REPORT_DIR = f"{RESULTS}/report"
# the project database (distillery.db); every job writes through to it as it ends
PROJECT_DB = f"{RESULTS}/project.db"
# written by db_sync once every metrics record is in PROJECT_DB: what the report reads after
DB_SYNC = f"{REPORT_DIR}/db_sync.json"
JAX_CACHE = f"{RESULTS}/.jax_cache"

_TRACK_TARGETS = {track: [] for track in TRACKS}
_RUN_TARGETS = [f"{RESULTS}/data_summary.csv"]


wildcard_constraints:
    dataset="|".join([*DATASETS, *VARIANTS]) or "NONE",
    capture="[A-Za-z0-9_-]+",


def dataset_cfg(name):
    return SETTINGS.dataset(name)


def dataset_seed(name):
    return SETTINGS.seed(name)


def datasets_for(track):
    return SETTINGS.datasets_for(track)


def register_targets(track, *patterns):
    """Track rule files add their final outputs (built by `rule all`) as patterns with
    {dataset}, or as functions of the dataset name that return such patterns (per model)."""
    _TRACK_TARGETS[track].extend(patterns)


def register_run_targets(*paths):
    """Run-wide outputs (no {dataset}) for `rule all`."""
    _RUN_TARGETS.extend(paths)


def track_targets(dataset=None, exclude=()):
    """Registered final outputs of the track rules, of one dataset or of all."""
    return [
        path.format(dataset=name)
        for track, patterns in _TRACK_TARGETS.items()
        for name in datasets_for(track)
        if dataset in (None, name)
        for pattern in patterns
        if pattern not in exclude
        for path in (pattern(name) if callable(pattern) else [pattern])
    ]


def all_targets():
    return [*track_targets(), *_RUN_TARGETS]


def raw_files(wildcards):
    """Raw inputs of a dataset: generated under data/raw/, the generator's shipped file, or
    the configured paths (a path missing from the working directory but shipped in the
    repository: the shipped file)."""
    cfg = dataset_cfg(wildcards.dataset)
    if cfg.generate is None:
        paths = [entry.path for entry in cfg.raw_entries()]
        return [p if Path(p).exists() or not shipped_file(p).exists() else str(shipped_file(p))
                for p in paths]
    if getattr(cfg.generate, "shipped", None) is not None:
        return [str(shipped_file(cfg.generate.shipped))]
    if cfg.generate.kind == "can_bus":
        return [f"data/raw/{wildcards.dataset}/{c}.csv" for c in cfg.generate.capture_specs()]
    return [f"data/raw/{wildcards.dataset}.npz"]


def generator_inputs(wildcards):
    """Shipped files a generator reads (the peptide's topology)."""
    generate = dataset_cfg(wildcards.dataset).generate
    if generate is not None and generate.kind == "openmm_peptide":
        return [str(shipped_file(generate.topology))]
    return []


def base_data(path):
    """Input function: a data file (FRAMES, SPLITS) of the dataset a sweep variant shares."""
    return lambda wc: path.format(dataset=SETTINGS.base_dataset(wc.dataset))


def settings_params(**params):
    """Settings params as given (each a value, or a function of the wildcards), plus
    `fingerprint`, a plain hash of them all. Snakemake's params trigger records plain values
    only, so the hash is what makes a changed setting rerun exactly the jobs that read it
    (and, through their outputs, their dependents)."""
    def fingerprint_of(wc):
        return fingerprint({k: p(wc) if callable(p) else p for k, p in params.items()})

    return {**params, "fingerprint": fingerprint_of}


def one_of(names):
    """A wildcard constraint that matches exactly these names."""
    return "|".join(names) or "NONE"


def log_path(rule_name):
    return f"{DATASET_DIR}/logs/{rule_name}.log"


def benchmark_path(rule_name):
    return f"{DATASET_DIR}/benchmarks/{rule_name}.tsv"


def conda_env(family):
    """The pinned environment of a rule family; JAX and torch families have CPU/CUDA twins."""
    twin = f"-{SETTINGS.config.conda}" if family in ("forcefield", "classifier") else ""
    return f"../envs/{family}{twin}.yaml"




# --- Run-wide report ---

LEARNING_CURVES = f"{DATASET_DIR}/report/learning_curves.svg"
_AFTER_BENCHMARKS = ("report_benchmarks", "report_notebook")


for _track in TRACKS:
    register_targets(_track, LEARNING_CURVES)


def registered_metrics():
    """Every registered metrics.json (one per dataset and track)."""
    return [path for path in track_targets() if Path(path).name == "metrics.json"]


def benchmark_patterns():
    """{rule: benchmark file pattern} of every rule that has one."""
    return {r.name: str(r.benchmark) for r in workflow.rules if isinstance(r.benchmark, str)}
