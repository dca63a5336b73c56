# CAN-bus track: window graphs per split -> GAT teacher -> students (KD and from scratch) ->
# test metrics, latency and speed-up. Checkpoints live outside the declared outputs so that a
# rerun resumes an interrupted training.

CLASSIFIER = config.get("classifier", {})
CAN_DIR = f"{RESULTS}/{{dataset}}/classifier"
CAN_STUDENTS = list(CLASSIFIER.get("students", {}))
CAN_SCRATCH = CLASSIFIER.get("scratch", [])
CAN_MODELS = [
    "teacher",
    *(f"{s}_kd" for s in CAN_STUDENTS),
    *(f"{s}_scratch" for s in CAN_SCRATCH),
]


wildcard_constraints:
    student="|".join(CAN_STUDENTS) or "NONE",
    mode="kd|scratch",


def can_windows(wildcards):
    return dataset_cfg(wildcards.dataset).get("windows", {})


def can_checkpoints(wildcards, model):
    return f"{RESULTS}/{wildcards.dataset}/checkpoints/classifier/{model}"


def can_student_inputs(wildcards):
    inputs = {key: f"{CAN_DIR}/graphs/{key}.pt".format(dataset=wildcards.dataset)
              for key in ("train", "val")}
    inputs["meta"] = f"{CAN_DIR}/graphs/meta.json".format(dataset=wildcards.dataset)
    if wildcards.mode == "kd":
        inputs["teacher"] = f"{CAN_DIR}/models/teacher.pt".format(dataset=wildcards.dataset)
    return inputs


rule can_graphs:
    """Sliding windows inside runs of one capture and one split -> ID-transition graphs."""
    input:
        frames=rules.ingest.output.frames,
        splits=rules.split.output[0],
    output:
        train=f"{CAN_DIR}/graphs/train.pt",
        val=f"{CAN_DIR}/graphs/val.pt",
        test=f"{CAN_DIR}/graphs/test.pt",
        windows=f"{CAN_DIR}/graphs/windows.parquet",
        meta=f"{CAN_DIR}/graphs/meta.json",
    params:
        windows=can_windows,
    log:
        log_path("can_graphs"),
    benchmark:
        benchmark_path("can_graphs")
    script:
        "../workflow_scripts/can_graphs.py"


rule can_train_teacher:
    """GAT teacher on hard labels (class-weighted)."""
    input:
        train=rules.can_graphs.output.train,
        val=rules.can_graphs.output.val,
        meta=rules.can_graphs.output.meta,
    output:
        model=f"{CAN_DIR}/models/teacher.pt",
        history=f"{CAN_DIR}/history/teacher.csv",
    params:
        name="teacher",
        arch=CLASSIFIER.get("teacher"),
        train=CLASSIFIER.get("train", {}),
        kd=None,
        device=CLASSIFIER.get("device", "auto"),
        checkpoints=lambda wc: can_checkpoints(wc, "teacher"),
    threads: 1
    log:
        log_path("can_train_teacher"),
    benchmark:
        benchmark_path("can_train_teacher")
    script:
        "../workflow_scripts/can_train.py"


rule can_train_student:
    """A student distilled from the teacher's softened logits (kd), or on labels alone (scratch)."""
    input:
        unpack(can_student_inputs),
    output:
        model=f"{CAN_DIR}/models/{{student}}_{{mode}}.pt",
        history=f"{CAN_DIR}/history/{{student}}_{{mode}}.csv",
    params:
        name=lambda wc: f"{wc.student}_{wc.mode}",
        arch=lambda wc: CLASSIFIER["students"][wc.student],
        train=CLASSIFIER.get("train", {}),
        kd=lambda wc: CLASSIFIER.get("kd") if wc.mode == "kd" else None,
        device=CLASSIFIER.get("device", "auto"),
        checkpoints=lambda wc: can_checkpoints(wc, f"{wc.student}_{wc.mode}"),
    threads: 1
    log:
        f"{RESULTS}/{{dataset}}/logs/can_train_student_{{student}}_{{mode}}.log",
    benchmark:
        f"{RESULTS}/{{dataset}}/benchmarks/can_train_student_{{student}}_{{mode}}.tsv"
    script:
        "../workflow_scripts/can_train.py"


rule can_evaluate:
    """Accuracy, macro F1, per-class precision/recall, AUROC, confusion, latency, speed-up."""
    input:
        test=rules.can_graphs.output.test,
        meta=rules.can_graphs.output.meta,
        models=expand(f"{CAN_DIR}/models/{{model}}.pt", model=CAN_MODELS, allow_missing=True),
    output:
        metrics=f"{CAN_DIR}/metrics.json",
        table=report(
            f"{CAN_DIR}/models.csv",
            caption="../report/can_models.rst",
            category="Classifier",
            subcategory="{dataset}",
            labels={"dataset": "{dataset}", "figure": "models table"},
        ),
        confusion=report(
            f"{CAN_DIR}/confusion.svg",
            caption="../report/can_confusion.rst",
            category="Classifier",
            subcategory="{dataset}",
            labels={"dataset": "{dataset}", "figure": "confusion matrices"},
        ),
    params:
        models=CAN_MODELS,
        primary_student=f"{CLASSIFIER.get('primary_student', 'mlp')}_kd",
        goals=CLASSIFIER.get("goals", {}),
        evaluate=CLASSIFIER.get("evaluate", {}),
        device=CLASSIFIER.get("device", "auto"),
    threads: 1
    log:
        log_path("can_evaluate"),
    benchmark:
        benchmark_path("can_evaluate")
    script:
        "../workflow_scripts/can_evaluate.py"


register_targets(
    "classifier",
    f"{CAN_DIR}/metrics.json",
    f"{CAN_DIR}/models.csv",
    f"{CAN_DIR}/confusion.svg",
)
