# Input functions and model lists of the electrostatics track (rules/electrostatics.smk).
from distillery.electrostatics.settings import MODELS as ES_ALL_MODELS

ES_DATASETS = datasets_for("electrostatics")
# every model name of every electrostatics dataset: the `{model}` wildcard takes these only
ES_MODELS = [m for m in ES_ALL_MODELS
             if any(m in SETTINGS.electrostatics(n).roles() for n in ES_DATASETS)]
# labelled by es_reference on request; a dataset's `raw` names it to label in the run
ES_REFERENCE = "data/raw/esp/{dataset}.npz"


def es(wildcards):
    """The dataset's electrostatics settings (the global block with its own merged in)."""
    return SETTINGS.electrostatics(wildcards.dataset)


def es_model_outputs(model):
    """Outputs of `es_train` for `model` (a teacher or the student)."""
    return {
        "model": f"{ES_DIR}/{model}/model.npz",
        "model_yaml": f"{ES_DIR}/{model}/model.yaml",
        "history_csv": report(
            f"{ES_DIR}/{model}/history.csv",
            caption="../report/es_history.rst",
            category="Electrostatics",
            subcategory="{dataset}",
            labels={"model": model, "table": "metrics per epoch"},
        ),
        "history_parquet": f"{ES_DIR}/{model}/history.parquet",
        "info": f"{ES_DIR}/{model}/train_info.json",
    }


def es_reference_frames(wildcards):
    """The ingested frames of the dataset that `reference.source` names."""
    reference = es(wildcards).reference
    if reference is None:
        raise WorkflowError(f"{ES_REFERENCE.format(dataset=wildcards.dataset)}: datasets."
                            f"{wildcards.dataset}.electrostatics.reference is null, expected "
                            "the PySCF settings and the source dataset of the labels")
    return FRAMES.format(dataset=reference.source)


def es_train_inputs(wildcards):
    """Frames and splits; for the student also the distillation set."""
    inputs = {"frames": FRAMES, "splits": SPLITS}
    if wildcards.model == "student":
        inputs["distill"] = f"{ES_DIR}/distill_set.parquet"
    return {k: v.format(dataset=wildcards.dataset) for k, v in inputs.items()}


def es_evaluate_inputs(wildcards):
    """Every trained model of the dataset, keyed by model name."""
    return {m: f"{ES_DIR}/{m}/model.npz".format(dataset=wildcards.dataset)
            for m in es(wildcards).roles()}


def es_figure(name):
    """A figure of `es_evaluate`, in the report."""
    return report(
        f"{ES_DIR}/figures/{name}.png",
        caption=f"../report/es_{name}.rst",
        category="Electrostatics",
        subcategory="{dataset}",
        labels={"figure": name},
    )
