# Force-field track: train the teacher (an equivariant PaiNN model) on the training split.
# Checkpoints live outside the rule's outputs so an interrupted run resumes instead of restarting.

FF = config.get("forcefield", {})
FF_DIR = f"{RESULTS}/{{dataset}}/forcefield"
FF_CACHE = f"{RESULTS}/.jax_cache"


def ff_model_outputs(model):
    """Outputs of a training rule for `model` (teacher, student or baseline)."""
    return {
        "model": f"{FF_DIR}/{model}/model.pkl",
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


def ff_section(role):
    """The architecture and training settings of the teacher or the students."""
    return FF.get("student" if role in ("student", "baseline") else "teacher", {})


rule ff_teacher:
    """Teacher force field: energy + force loss, EMA, early stopping, resumable checkpoints."""
    input:
        frames=f"{RESULTS}/{{dataset}}/data/frames.parquet",
        splits=f"{RESULTS}/{{dataset}}/data/splits.json",
    output:
        **ff_model_outputs("teacher"),
    params:
        model=ff_section("teacher").get("model", {}),
        train=lambda wc: {"seed": dataset_seed(wc.dataset), **ff_section("teacher").get("train", {})},
        checkpoints=f"{RESULTS}/{{dataset}}/checkpoints/teacher",
        cache_dir=FF_CACHE,
    log:
        log_path("ff_teacher"),
    benchmark:
        benchmark_path("ff_teacher")
    script:
        "../workflow_scripts/ff_train.py"
