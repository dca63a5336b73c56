# Force-field track: the teacher labels training + augmented frames; a small student learns
# them (knowledge distillation), and the same student architecture trained on the reference
# labels alone is the baseline.

FF_DISTILL = FF.get("distill", {})
FF_HVP = bool(FF_DISTILL.get("hvp", False))


rule ff_distill_set:
    """Training frames, displaced copies and teacher-MD frames, labelled by the teacher."""
    input:
        frames=f"{RESULTS}/{{dataset}}/data/frames.parquet",
        splits=f"{RESULTS}/{{dataset}}/data/splits.json",
        teacher=f"{FF_DIR}/teacher/model.pkl",
    output:
        frames=f"{FF_DIR}/distill_set.parquet",
        **({"hvp": f"{FF_DIR}/distill_hvp.npz"} if FF_HVP else {}),
    params:
        distill=FF_DISTILL,
        seed=lambda wc: dataset_seed(wc.dataset),
        cache_dir=FF_CACHE,
    log:
        log_path("ff_distill_set"),
    benchmark:
        benchmark_path("ff_distill_set")
    script:
        "../workflow_scripts/ff_distill_set.py"


def ff_student_inputs(wildcards):
    inputs = {
        "frames": f"{RESULTS}/{wildcards.dataset}/data/frames.parquet",
        "splits": f"{RESULTS}/{wildcards.dataset}/data/splits.json",
    }
    if wildcards.model == "student":
        inputs["distill"] = f"{RESULTS}/{wildcards.dataset}/forcefield/distill_set.parquet"
        if FF_HVP:
            inputs["hvp"] = f"{RESULTS}/{wildcards.dataset}/forcefield/distill_hvp.npz"
    return inputs


def ff_student_train(wildcards):
    train = {"seed": dataset_seed(wildcards.dataset), **ff_section("student").get("train", {})}
    if wildcards.model == "student" and FF_HVP:
        train["hvp_weight"] = FF_DISTILL.get("hvp_weight", 1.0)
    return train


rule ff_student:
    """Student on teacher labels (`student`) or on reference labels only (`baseline`)."""
    input:
        unpack(ff_student_inputs),
    output:
        **ff_model_outputs("{model}"),
    wildcard_constraints:
        model="student|baseline",
    params:
        model=ff_section("student").get("model", {}),
        train=ff_student_train,
        distill=FF_DISTILL,
        checkpoints=f"{RESULTS}/{{dataset}}/checkpoints/{{model}}",
        cache_dir=FF_CACHE,
    log:
        log_path("ff_{model}"),
    benchmark:
        benchmark_path("ff_{model}")
    script:
        "../workflow_scripts/ff_train.py"
