# Typed settings built once from the config, shared path patterns, and the registry of final
# targets that `rule all` builds. Every other rule file depends on this one only.
from pathlib import Path
from types import SimpleNamespace

from snakemake.exceptions import WorkflowError

from distillery.base_settings import fingerprint
from distillery.data.generate import shipped_file
from distillery.errors import ConfigError
from distillery.forcefield.settings import model_role
from distillery.settings import load as load_settings

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
REPORT_DIR = f"{RESULTS}/report"
# the project database (distillery.db); every job writes through to it as it ends
PROJECT_DB = f"{RESULTS}/project.db"
# written by db_sync once every metrics record is in PROJECT_DB: what the report reads after
DB_SYNC = f"{REPORT_DIR}/db_sync.json"
JAX_CACHE = f"{RESULTS}/.jax_cache"

_TRACK_TARGETS = {"forcefield": [], "coarse_grained": [], "classifier": []}
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
    """Raw inputs of a dataset: generated under data/raw/ or the configured paths."""
    cfg = dataset_cfg(wildcards.dataset)
    if cfg.generate is None:
        return [entry.path for entry in cfg.raw_entries()]
    if cfg.generate.kind == "can_bus":
        return [f"data/raw/{wildcards.dataset}/{c}.csv" for c in cfg.generate.captures]
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
    """`params:` of a rule that reads settings: each as given (a value, or a function of the
    wildcards), plus `fingerprint`, a plain hash of them all. Snakemake's params trigger
    records plain values only, so the hash is what makes a changed setting rerun exactly the
    jobs that read it (and, through their outputs, their dependents)."""
    def fingerprint_of(wc):
        return fingerprint({k: p(wc) if callable(p) else p for k, p in params.items()})

    return {**params, "fingerprint": fingerprint_of}


def log_path(rule_name):
    return f"{DATASET_DIR}/logs/{rule_name}.log"


def benchmark_path(rule_name):
    return f"{DATASET_DIR}/benchmarks/{rule_name}.tsv"


def conda_env(family):
    """The pinned environment of a rule family; JAX and torch families have CPU/CUDA twins."""
    twin = f"-{SETTINGS.config.conda}" if family in ("forcefield", "classifier") else ""
    return f"../envs/{family}{twin}.yaml"


# --- Force-field track ---

# every model name of every force-field dataset (teacher, student[_<name>], baseline[_<name>]):
# the `{model}` wildcard takes these values only
FF_MODELS = sorted({m for name in datasets_for("forcefield")
                    for m in SETTINGS.forcefield(name).models()})
FF_STUDENTS = [m for m in FF_MODELS if model_role(m) == "student"]


def one_of(names):
    """A wildcard constraint that matches exactly these names."""
    return "|".join(names) or "NONE"


def ff(wildcards):
    """The dataset's force-field settings (the global block with its own block merged in)."""
    return SETTINGS.forcefield(wildcards.dataset)


def ff_model_outputs(model):
    """Outputs of a training rule for `model` (teacher, a student or a baseline)."""
    return {
        "model": f"{FF_DIR}/{model}/model.npz",
        "model_yaml": f"{FF_DIR}/{model}/model.yaml",
        "history_csv": report(
            f"{FF_DIR}/{model}/history.csv",
            caption="../report/ff_history.rst",
            category="Force field",
            subcategory="{dataset}",
            labels={"model": model, "table": "metrics per epoch"},
        ),
        "history_parquet": f"{FF_DIR}/{model}/history.parquet",
        "info": f"{FF_DIR}/{model}/train_info.json",
    }


def ff_teacher_inputs(wildcards):
    """The teacher's file: the trained model (source train), the export's program (export);
    nothing for an ASE calculator, which is built from its import path."""
    teacher = ff(wildcards).teacher
    if teacher.source == "train":
        return {"teacher": f"{FF_DIR}/teacher/model.npz".format(dataset=wildcards.dataset)}
    if teacher.source == "export":
        return {"teacher": f"{teacher.export}/forcefield.stablehlo"}
    return {}


def ff_md_model_inputs(wildcards):
    """The exported program of a trained model; a teacher from elsewhere runs as it is."""
    if wildcards.model == "teacher" and ff(wildcards).teacher.source != "train":
        return ff_teacher_inputs(wildcards)
    return {kind: f"{EXPORT_DIR}/{wildcards.model}/{name}".format(dataset=wildcards.dataset)
            for kind, name in (("program", "forcefield.stablehlo"), ("check", "check.json"))}


def ff_distill_chunks(wildcards):
    return [f"{FF_DIR}/distill/labels_{k}.npz".format(dataset=wildcards.dataset)
            for k in range(ff(wildcards).distill.chunks)]


def ff_train_inputs(wildcards):
    inputs = {"frames": FRAMES, "splits": SPLITS}
    if model_role(wildcards.model) == "student":
        inputs["distill"] = f"{FF_DIR}/distill_set.parquet"
        if ff(wildcards).distill.hvp:
            inputs["hvp"] = f"{FF_DIR}/distill_hvp.npz"
    return {k: v.format(dataset=wildcards.dataset) for k, v in inputs.items()}


def ff_role(wildcards):
    return ff(wildcards).role(wildcards.model)


def ff_trained_models(dataset):
    """The students and baselines of a dataset: each is trained, evaluated and exported."""
    return [m for m in SETTINGS.forcefield(dataset).models() if m != "teacher"]


def ff_evaluate_inputs(wildcards):
    """The teacher's file and every student's and baseline's model, keyed by model name."""
    models = {m: f"{FF_DIR}/{m}/model.npz".format(dataset=wildcards.dataset)
              for m in ff_trained_models(wildcards.dataset)}
    return {**ff_teacher_inputs(wildcards), **models}


def ff_card_inputs(wildcards):
    """A student's metrics, training record and, when it was run in MD, the MD summary."""
    inputs = {"metrics": f"{FF_DIR}/metrics.json",
              "info": f"{FF_DIR}/{wildcards.model}/train_info.json"}
    if wildcards.model in ff(wildcards).md_stability.models:
        inputs["md"] = f"{MD_DIR}/md_stability.json"
    return {k: v.format(dataset=wildcards.dataset) for k, v in inputs.items()}


def ff_figure(kind):
    """A figure of every model of the dataset (`ff_evaluate`)."""
    return report(
        f"{FF_DIR}/figures/{kind}.png",
        caption=f"../report/ff_{kind}.rst",
        category="Force field",
        subcategory="{dataset}",
        labels={"figure": kind},
    )


def md_figure(name, caption):
    return report(
        f"{MD_DIR}/figures/{name}.png",
        caption=f"../report/{caption}.rst",
        category="Force field",
        subcategory="{dataset}: MD stability",
        labels={"figure": name},
    )


def md_runs(wildcards, kind):
    return [f"{MD_DIR}/{m}/{kind}".format(dataset=wildcards.dataset)
            for m in ff(wildcards).md_stability.models]


# --- CAN track ---

def can(wildcards):
    """The dataset's classifier settings (the global block with its own block merged in)."""
    return SETTINGS.classifier(wildcards.dataset)


def can_models(wildcards):
    """teacher, every `{student}_kd`, and `{student}_scratch` for the students in `scratch`."""
    settings = can(wildcards)
    return ["teacher", *(f"{s}_kd" for s in settings.students),
            *(f"{s}_scratch" for s in settings.scratch)]


def can_scored_models(wildcards):
    """Every model that scores windows for the IDS evaluation: the classifiers, the VGAE and
    its distilled student when `anomaly_student` is set."""
    student = ["vgae_student"] if can(wildcards).anomaly_student is not None else []
    return [*can_models(wildcards), "vgae", *student]


def can_source_models(wildcards):
    """The scored models of dataset `{source}`, for the cross-dataset evaluation."""
    return can_scored_models(SimpleNamespace(dataset=wildcards.source))


def can_source_model_files(wildcards):
    return [f"{RESULTS}/{wildcards.source}/classifier/models/{m}.safetensors"
            for m in can_source_models(wildcards)]


def can_vgae_inputs(wildcards):
    inputs = {key: f"{CAN_DIR}/graphs/{key}.npz" for key in ("train", "val")}
    inputs["meta"] = f"{CAN_DIR}/graphs/meta.json"
    if wildcards.anomaly == "vgae_student":
        inputs["teacher"] = f"{CAN_DIR}/models/vgae.safetensors"
    return {k: v.format(dataset=wildcards.dataset) for k, v in inputs.items()}


def can_exports(wildcards):
    """Every distilled student as TorchScript; the graph-free MLPs also as ONNX (GATConv cannot
    be exported to ONNX, see distillery.can.export)."""
    settings = can(wildcards)
    return [
        f"{EXPORT_DIR}/classifier/{s}_kd/check_{fmt}.json".format(
            dataset=wildcards.dataset)
        for s, arch in settings.students.items()
        for fmt in (("torchscript", "onnx") if arch.kind == "mlp" else ("torchscript",))
    ]


def can_arch(wildcards):
    settings = can(wildcards)
    if wildcards.model == "teacher":
        return settings.teacher
    return settings.students[wildcards.model.rsplit("_", 1)[0]]


def can_train_inputs(wildcards):
    inputs = {key: f"{CAN_DIR}/graphs/{key}.npz" for key in ("train", "val")}
    inputs["meta"] = f"{CAN_DIR}/graphs/meta.json"
    distilled = wildcards.model.endswith("_kd")
    if distilled:
        inputs["teacher"] = f"{CAN_DIR}/models/teacher.safetensors"
    curriculum = can(wildcards).curriculum
    if curriculum.enabled and curriculum.measure(distilled) == "label_margin":
        inputs["windows"] = f"{CAN_DIR}/graphs/windows.parquet"  # attack share per window
    return {k: v.format(dataset=wildcards.dataset) for k, v in inputs.items()}


# --- Run-wide report ---

LEARNING_CURVES = f"{DATASET_DIR}/report/learning_curves.svg"
_AFTER_BENCHMARKS = ("report_benchmarks", "report_notebook")


for _track in ("forcefield", "coarse_grained", "classifier"):
    register_targets(_track, LEARNING_CURVES)


def registered_metrics():
    """Every registered metrics.json (one per dataset and track)."""
    return [path for path in track_targets() if Path(path).name == "metrics.json"]


def benchmark_patterns():
    """{rule: benchmark file pattern} of every rule that has one."""
    return {r.name: str(r.benchmark) for r in workflow.rules if isinstance(r.benchmark, str)}
