# Input functions and model lists of the CAN track (rules/can.smk).
from distillery.can.record import SINGLE

# every classifier, anomaly model and exported model of every classifier dataset: the
# `{model}` and `{anomaly}` wildcards take these values only
_CAN_SETTINGS = [SETTINGS.classifier(name) for name in datasets_for("classifier")]
CAN_MODELS = sorted({m for s in _CAN_SETTINGS for m in s.models()})
CAN_ANOMALY_MODELS = sorted({m for s in _CAN_SETTINGS for m in s.anomaly_models()})
CAN_EXPORTED = sorted({m for s in _CAN_SETTINGS for m, _ in s.exports()})


def can(wildcards):
    """The dataset's classifier settings (the global block with its own block merged in)."""
    return SETTINGS.classifier(wildcards.dataset)


def can_role(wildcards):
    """Role, architecture and KD settings (None unless distilled) of the `{model}` classifier."""
    return can(wildcards).role(wildcards.model)


def can_model_files(dataset, models):
    return [f"{CAN_DIR}/models/{m}.safetensors".format(dataset=dataset) for m in models]


def can_models(wildcards):
    return list(can(wildcards).models())


def can_scored_models(wildcards):
    return list(can(wildcards).scored_models())


def can_source_models(wildcards):
    """The scored models of dataset `{source}`, for the cross-dataset evaluation."""
    return list(SETTINGS.classifier(wildcards.source).scored_models())


def can_train_inputs(wildcards):
    role = can_role(wildcards)
    inputs = {key: f"{CAN_DIR}/graphs/{key}.npz" for key in ("train", "val")}
    inputs["meta"] = f"{CAN_DIR}/graphs/meta.json"
    if role.distilled:
        inputs["teacher"] = f"{CAN_DIR}/models/{role.teacher}.safetensors"
    curriculum = can(wildcards).curriculum
    if curriculum.enabled and curriculum.measure(role.distilled) == "label_margin":
        inputs["windows"] = f"{CAN_DIR}/graphs/windows.parquet"  # attack share per window
    return {k: v.format(dataset=wildcards.dataset) for k, v in inputs.items()}


def can_anomaly_role(wildcards):
    return can(wildcards).anomaly_role(wildcards.anomaly)


def can_vgae_inputs(wildcards):
    inputs = {key: f"{CAN_DIR}/graphs/{key}.npz" for key in ("train", "val")}
    inputs["meta"] = f"{CAN_DIR}/graphs/meta.json"
    teacher = can_anomaly_role(wildcards).teacher
    if teacher is not None:
        inputs["teacher"] = f"{CAN_DIR}/models/{teacher}.safetensors"
    return {k: v.format(dataset=wildcards.dataset) for k, v in inputs.items()}


def can_payload_inputs(wildcards):
    """The payload model and the frames it reads, when the dataset has one."""
    if can(wildcards).payload is None:
        return {}
    return {"payload": f"{CAN_DIR}/models/payload.safetensors".format(dataset=wildcards.dataset),
            "frames": FRAMES.format(dataset=wildcards.dataset)}


def can_export_payload_inputs(wildcards):
    """The exported payload model, the validation scores its fusion with the student is
    fitted on and the windows table (the test figures of the fusion in the check), when the
    dataset has a payload model."""
    if can(wildcards).payload is None:
        return {}
    return {"payload": f"{EXPORT_DIR}/classifier/payload.safetensors".format(
                dataset=wildcards.dataset),
            "scores": f"{CAN_DIR}/scores.parquet".format(dataset=wildcards.dataset),
            "windows": f"{CAN_DIR}/graphs/windows.parquet".format(dataset=wildcards.dataset)}


def can_export_files(wildcards):
    """The check file of every export of the dataset (`ClassifierSettings.exports`)."""
    return [f"{EXPORT_DIR}/classifier/{m}/check_{fmt}.json".format(dataset=wildcards.dataset)
            for m, fmt in can(wildcards).exports()]


def can_operating_capture(dataset):
    """The attack-free capture of the operating points: `classifier.operating_points.capture`,
    else the one generated for a dataset of generated captures when `duration` is set; None:
    no operating points."""
    settings = SETTINGS.classifier(dataset).operating_points
    if settings.capture is not None:
        return settings.capture
    generate = dataset_cfg(dataset).generate
    if generate is not None and generate.kind == "can_bus" and settings.duration:
        return f"data/raw/{dataset}_long_normal.csv"
    return None


def can_operating_models(wildcards):
    """The detectors the fusions combine that have model files (teacher, VGAE)."""
    return [m for m in SINGLE if m in can(wildcards).scored_models()]


def can_operating_inputs(wildcards):
    inputs = {"capture": can_operating_capture(wildcards.dataset)}
    if can(wildcards).payload is not None:
        inputs["payload"] = f"{CAN_DIR}/models/payload.safetensors".format(
            dataset=wildcards.dataset)
    return inputs


def can_evaluate_inputs(wildcards):
    """The payload model's inputs, and the operating points when the dataset has a capture."""
    inputs = can_payload_inputs(wildcards)
    if can_operating_capture(wildcards.dataset) is not None:
        inputs["operating_points"] = f"{CAN_DIR}/operating_points.json".format(
            dataset=wildcards.dataset)
    return inputs
