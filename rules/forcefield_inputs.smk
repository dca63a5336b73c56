# Input functions and model lists of the force-field track (rules/forcefield.smk).
from functools import cache

from distillery.forcefield.settings import model_role

# every model name of every force-field dataset (teacher, student[_<name>], baseline[_<name>]):
# the `{model}` wildcard takes these values only
FF_MODELS = sorted({m for name in datasets_for("forcefield")
                    for m in SETTINGS.forcefield(name).models()})
FF_STUDENTS = [m for m in FF_MODELS if model_role(m) == "student"]


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


@cache
def ff_source(dataset, stage):
    """The dataset whose outputs of `stage` (`teacher`: the trained teacher; `distill`: the
    distillation set) `dataset` reads: the first of its base dataset and the base's sweep
    variants whose settings of that stage and seed are the same, so that sweep variants
    share every upstream output that they do not change."""
    return SETTINGS.first_alike(dataset, lambda name: SETTINGS.forcefield(name).shared_settings(
        stage, SETTINGS.seed(name)))


def ff_teacher_inputs(wildcards):
    """The teacher's file: the trained model (source train), the export's program (export);
    nothing for an ASE calculator, which is built from its import path."""
    teacher = ff(wildcards).teacher
    if teacher.source == "train":
        return {"teacher": ff_teacher_file(wildcards.dataset, "model.npz")}
    if teacher.source == "export":
        return {"teacher": f"{teacher.export}/forcefield.stablehlo"}
    return {}


def ff_teacher_file(dataset, name):
    """A file of the trained teacher that `dataset` reads (`ff_source`)."""
    return f"{FF_DIR}/teacher/{name}".format(dataset=ff_source(dataset, "teacher"))


def ff_md_model_inputs(wildcards):
    """The exported program of a trained model; a teacher from elsewhere runs as it is."""
    if wildcards.model == "teacher" and ff(wildcards).teacher.source != "train":
        return ff_teacher_inputs(wildcards)
    dataset = (ff_source(wildcards.dataset, "teacher") if wildcards.model == "teacher"
               else wildcards.dataset)
    return {kind: f"{EXPORT_DIR}/{wildcards.model}/{name}".format(dataset=dataset)
            for kind, name in (("program", "forcefield.stablehlo"), ("check", "check.json"))}


def ff_distill_chunks(wildcards):
    return [f"{FF_DIR}/distill/labels_{k}.npz".format(dataset=wildcards.dataset)
            for k in range(ff(wildcards).distill.chunks)]


def ff_train_inputs(wildcards):
    """Frames and splits; a student's distillation set (shared, `ff_source`); a baseline's
    student's train_info.json, whose optimizer steps set the baseline's budget."""
    dataset, role = wildcards.dataset, model_role(wildcards.model)
    inputs = {"frames": FRAMES.format(dataset=dataset), "splits": SPLITS.format(dataset=dataset)}
    if role == "student":
        source = ff_source(dataset, "distill")
        inputs["distill"] = f"{FF_DIR}/distill_set.parquet".format(dataset=source)
        if ff(wildcards).distill.hvp:
            inputs["hvp"] = f"{FF_DIR}/distill_hvp.npz".format(dataset=source)
    if role == "baseline":
        student = ff(wildcards).baselines()[wildcards.model]
        inputs["student_info"] = f"{FF_DIR}/{student}/train_info.json".format(dataset=dataset)
    return inputs


def ff_role(wildcards):
    return ff(wildcards).role(wildcards.model)


def ff_trained_models(dataset):
    """The students and baselines of a dataset: each is trained, evaluated and exported."""
    return [m for m in SETTINGS.forcefield(dataset).models() if m != "teacher"]


def ff_evaluate_inputs(wildcards):
    """The teacher's file and every student's and baseline's model, keyed by model name, and
    the train_info.json of every model trained here as `info_<model>`."""
    trained = ff_trained_models(wildcards.dataset)
    models = {m: f"{FF_DIR}/{m}/model.npz".format(dataset=wildcards.dataset) for m in trained}
    infos = {f"info_{m}": f"{FF_DIR}/{m}/train_info.json".format(dataset=wildcards.dataset)
             for m in trained}
    if ff(wildcards).teacher.source == "train":
        infos["info_teacher"] = ff_teacher_file(wildcards.dataset, "train_info.json")
    return {**ff_teacher_inputs(wildcards), **models, **infos}


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
