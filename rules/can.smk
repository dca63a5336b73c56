# CAN-bus track: window graphs per split -> GAT teacher -> students (KD and from scratch), VGAE
# and per-ID payload model on normal traffic -> scores and fusions -> test metrics, latency and
# speed-up -> TorchScript/ONNX export of the distilled students.
# Checkpoints live outside the declared outputs so that a rerun resumes an interrupted training.
# Model names and roles come from the classifier settings (`ClassifierSettings.models`,
# `role`, `anomaly_models`, `exports`); no rule parses a name.

include: "can_inputs.smk"


rule can_graphs:
    """Sliding windows inside runs of one capture and one split -> ID-transition graphs."""
    input:
        frames=FRAMES,
        splits=SPLITS,
    output:
        train=f"{CAN_DIR}/graphs/train.npz",
        val=f"{CAN_DIR}/graphs/val.npz",
        test=f"{CAN_DIR}/graphs/test.npz",
        windows=f"{CAN_DIR}/graphs/windows.parquet",
        meta=f"{CAN_DIR}/graphs/meta.json",
    params:
        **settings_params(windows=lambda wc: dataset_cfg(wc.dataset).windows),
    log:
        log_path("can_graphs"),
    benchmark:
        benchmark_path("can_graphs")
    conda:
        conda_env("classifier")
    script:
        "../workflow_scripts/can_graphs.py"


rule can_train:
    """The GAT teacher on hard labels, or a student distilled from the teacher's softened logits
    (`{student}_kd`) or trained on labels alone (`{student}_scratch`); `_rep<k>`: a seed
    repeat of one of them (training seed plus k)."""
    input:
        unpack(can_train_inputs),
    output:
        model=f"{CAN_DIR}/models/{{model}}.safetensors",
        history=f"{CAN_DIR}/history/{{model}}.csv",
    wildcard_constraints:
        model=one_of(CAN_MODELS),
    params:
        **settings_params(
            # name, role, architecture and `kd`: the KD settings of a distilled student, None
            # for the teacher and the scratch students (a KD change reruns the KD ones only)
            model=can_role,
            train=lambda wc: can(wc).model_train(wc.model),
            held_out=lambda wc: can(wc).held_out,
            curriculum=lambda wc: can(wc).curriculum,
            device=lambda wc: can(wc).device,
        ),
        checkpoints=f"{CHECKPOINTS}/classifier/{{model}}",
    threads: 1
    log:
        log_path("can_train_{model}"),
    benchmark:
        benchmark_path("can_train_{model}")
    conda:
        conda_env("classifier")
    script:
        "../workflow_scripts/can_train.py"


rule can_train_vgae:
    """The VGAE anomaly detector on normal training windows only, or (`vgae_student`) a small
    VGAE distilled from its anomaly scores; resumable like can_train."""
    input:
        unpack(can_vgae_inputs),
    output:
        model=f"{CAN_DIR}/models/{{anomaly}}.safetensors",
        history=f"{CAN_DIR}/history/{{anomaly}}.csv",
    wildcard_constraints:
        anomaly=one_of(CAN_ANOMALY_MODELS),
    params:
        **settings_params(
            model=can_anomaly_role,
            train=lambda wc: can(wc).train,
            device=lambda wc: can(wc).device,
        ),
        checkpoints=f"{CHECKPOINTS}/classifier/{{anomaly}}",
    threads: 1
    log:
        log_path("can_train_{anomaly}"),
    benchmark:
        benchmark_path("can_train_{anomaly}")
    conda:
        conda_env("classifier")
    script:
        "../workflow_scripts/can_train_vgae.py"


rule can_train_payload:
    """The per-ID payload model (byte values and byte changes of every ID) on the training
    windows without attack frames."""
    input:
        frames=FRAMES,
        windows=f"{CAN_DIR}/graphs/windows.parquet",
        meta=f"{CAN_DIR}/graphs/meta.json",
    output:
        model=f"{CAN_DIR}/models/payload.safetensors",
    params:
        **settings_params(payload=lambda wc: can(wc).payload),
    log:
        log_path("can_train_payload"),
    benchmark:
        benchmark_path("can_train_payload")
    conda:
        conda_env("classifier")
    script:
        "../workflow_scripts/can_train_payload.py"


rule can_scores:
    """Anomaly scores of every model (and the payload model) on the validation and test
    windows, and the two fusions of the teacher's score with the VGAE's and the payload
    model's (stacking, DQN) fitted on validation windows."""
    input:
        unpack(can_payload_inputs),
        windows=f"{CAN_DIR}/graphs/windows.parquet",
        val=f"{CAN_DIR}/graphs/val.npz",
        test=f"{CAN_DIR}/graphs/test.npz",
        meta=f"{CAN_DIR}/graphs/meta.json",
        models=lambda wc: can_model_files(wc.dataset, can_scored_models(wc)),
    output:
        scores=f"{CAN_DIR}/scores.parquet",
        fusion=f"{CAN_DIR}/models/fusion.safetensors",
    params:
        models=can_scored_models,
        **settings_params(
            held_out=lambda wc: can(wc).held_out,
            fusion=lambda wc: can(wc).fusion,
            device=lambda wc: can(wc).device,
        ),
        batch_size=lambda wc: can(wc).evaluate.batch_size,
    threads: 1
    log:
        log_path("can_scores"),
    benchmark:
        benchmark_path("can_scores")
    conda:
        conda_env("classifier")
    script:
        "../workflow_scripts/can_scores.py"


rule can_evaluate:
    """Accuracy, macro F1, per-class precision/recall, AUROC, confusion, latency, speed-up;
    as an IDS, per model and fusion: detection rate per attack at fixed false-positive rates,
    AUROC, AUPRC and detection latency, with held-out attacks reported apart (all on the
    vehicles trained on); macro F1 and detection on the four vehicle/attack splits; the
    payload model's size and speed; the unseen-attack and split goals; the operating points
    on a long attack-free capture, when the dataset has one."""
    input:
        unpack(can_evaluate_inputs),
        test=f"{CAN_DIR}/graphs/test.npz",
        meta=f"{CAN_DIR}/graphs/meta.json",
        scores=f"{CAN_DIR}/scores.parquet",
        windows=f"{CAN_DIR}/graphs/windows.parquet",
        models=lambda wc: can_model_files(wc.dataset, can_models(wc)),
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
        ids=report(
            f"{CAN_DIR}/ids.csv",
            caption="../report/can_ids.rst",
            category="Classifier",
            subcategory="{dataset}",
            labels={"dataset": "{dataset}", "figure": "IDS table"},
        ),
        detection=report(
            f"{CAN_DIR}/detection.svg",
            caption="../report/can_detection.rst",
            category="Classifier",
            subcategory="{dataset}",
            labels={"dataset": "{dataset}", "figure": "detection rates"},
        ),
        vehicle_splits=report(
            f"{CAN_DIR}/vehicle_splits.csv",
            caption="../report/can_vehicle_splits.rst",
            category="Classifier",
            subcategory="{dataset}",
            labels={"dataset": "{dataset}", "figure": "vehicle/attack splits"},
        ),
    params:
        models=can_models,
        **settings_params(
            lineup=lambda wc: can(wc).lineup(),
            held_out=lambda wc: can(wc).held_out,
            ids=lambda wc: can(wc).ids,
            goals=lambda wc: can(wc).goals,
            evaluate=lambda wc: can(wc).evaluate,
            device=lambda wc: can(wc).device,
        ),
    threads: 1
    log:
        log_path("can_evaluate"),
    benchmark:
        benchmark_path("can_evaluate")
    conda:
        conda_env("classifier")
    script:
        "../workflow_scripts/can_evaluate.py"


rule generate_can_long_normal:
    """A long attack-free CAN capture of the generated vehicle (its ECUs, a random stream of its
    own), kept out of the dataset's frames: it measures operating points at low false-positive
    rates (can_operating_points)."""
    output:
        "data/raw/{dataset}_long_normal.csv",
    params:
        **settings_params(
            vehicle=lambda wc: dataset_cfg(wc.dataset).generate.vehicle,
            duration=lambda wc: can(wc).operating_points.duration,
            seed=lambda wc: dataset_seed(wc.dataset),
        ),
    log:
        log_path("generate_can_long_normal"),
    benchmark:
        benchmark_path("generate_can_long_normal")
    conda:
        conda_env("data")
    script:
        "../workflow_scripts/generate_can_long_normal.py"


rule can_operating_points:
    """Operating points at low false-positive rates: a long attack-free capture streamed a block
    at a time through the teacher, the VGAE, the payload model and the fusions (no full set of
    window graphs in memory); thresholds on its first windows, the false-positive rate and
    false alarms per hour measured on the rest, detection of the attack test windows at each
    threshold, and the same at the validation thresholds."""
    input:
        unpack(can_operating_inputs),
        models=lambda wc: can_model_files(wc.dataset, can_operating_models(wc)),
        fusion=f"{CAN_DIR}/models/fusion.safetensors",
        scores=f"{CAN_DIR}/scores.parquet",
        windows=f"{CAN_DIR}/graphs/windows.parquet",
        meta=f"{CAN_DIR}/graphs/meta.json",
    output:
        json=f"{CAN_DIR}/operating_points.json",
        table=report(
            f"{CAN_DIR}/operating_points.csv",
            caption="../report/can_operating_points.rst",
            category="Classifier",
            subcategory="{dataset}",
            labels={"dataset": "{dataset}", "figure": "operating points"},
        ),
    params:
        models=can_operating_models,
        **settings_params(
            operating_points=lambda wc: can(wc).operating_points,
            held_out=lambda wc: can(wc).held_out,
            device=lambda wc: can(wc).device,
        ),
        batch_size=lambda wc: can(wc).evaluate.batch_size,
    threads: 1
    log:
        log_path("can_operating_points"),
    benchmark:
        benchmark_path("can_operating_points")
    conda:
        conda_env("classifier")
    script:
        "../workflow_scripts/can_operating_points.py"


rule can_export_payload:
    """The payload model beside the exported students, which name it: the live detector fuses
    its score with theirs."""
    input:
        model=f"{CAN_DIR}/models/payload.safetensors",
    output:
        model=f"{EXPORT_DIR}/classifier/payload.safetensors",
    log:
        log_path("can_export_payload"),
    benchmark:
        benchmark_path("can_export_payload")
    conda:
        conda_env("classifier")
    script:
        "../workflow_scripts/can_export_payload.py"


rule can_export_model:
    """One distilled student in one format, checked against the in-process logits; the file
    carries what `python -m distillery.can.detect` needs (windows, thresholds on normal
    validation windows at the IDS false-positive rates and, with a payload model, how to fuse
    its score with the student's, fitted on the validation scores)."""
    input:
        unpack(can_export_payload_inputs),
        model=f"{CAN_DIR}/models/{{model}}.safetensors",
        graphs=f"{CAN_DIR}/graphs/test.npz",
        val=f"{CAN_DIR}/graphs/val.npz",
        meta=f"{CAN_DIR}/graphs/meta.json",
    output:
        model=f"{EXPORT_DIR}/classifier/{{model}}/model.{{format}}",
        check=f"{EXPORT_DIR}/classifier/{{model}}/check_{{format}}.json",
    wildcard_constraints:
        model=one_of(CAN_EXPORTED),
        format="torchscript|onnx",
    params:
        check_graphs=64,
        tolerance=1e-4,  # logits, float32
        **settings_params(
            fprs=lambda wc: can(wc).ids.fprs,
            held_out=lambda wc: can(wc).held_out,
            stacking_l2=lambda wc: can(wc).fusion.stacking_l2,
        ),
        batch_size=lambda wc: can(wc).evaluate.batch_size,
    log:
        log_path("can_export_model_{model}_{format}"),
    benchmark:
        benchmark_path("can_export_model_{model}_{format}")
    conda:
        conda_env("classifier")
    script:
        "../workflow_scripts/can_export_model.py"


rule can_export_checks:
    """The checks of every export of a dataset's distilled students in one file (the target
    that names every export)."""
    input:
        can_export_files,
    output:
        f"{EXPORT_DIR}/classifier/checks.json",
    log:
        log_path("can_export_checks"),
    benchmark:
        benchmark_path("can_export_checks")
    conda:
        conda_env("classifier")
    script:
        "../workflow_scripts/can_export_checks.py"


register_targets(
    "classifier",
    f"{CAN_DIR}/metrics.json",
    f"{CAN_DIR}/models.csv",
    f"{CAN_DIR}/confusion.svg",
    f"{CAN_DIR}/ids.csv",
    f"{CAN_DIR}/detection.svg",
    f"{CAN_DIR}/vehicle_splits.csv",
    f"{EXPORT_DIR}/classifier/checks.json",
)


rule can_cross:
    """Cross-dataset evaluation, on demand: the models trained on dataset `{source}` score the
    test windows of `{dataset}` (thresholds from `{source}`'s normal validation windows),
    e.g. `snakemake results/B/classifier/cross/A.csv` for two classifier datasets A and B."""
    input:
        models=lambda wc: can_model_files(wc.source, can_source_models(wc)),
        source_val=f"{RESULTS}/{{source}}/classifier/graphs/val.npz",
        test=f"{CAN_DIR}/graphs/test.npz",
        meta=f"{CAN_DIR}/graphs/meta.json",
        windows=f"{CAN_DIR}/graphs/windows.parquet",
    output:
        json=f"{CAN_DIR}/cross/{{source}}.json",
        table=f"{CAN_DIR}/cross/{{source}}.csv",
    wildcard_constraints:
        source="|".join(DATASETS) or "NONE",
    params:
        models=can_source_models,
        **settings_params(
            ids=lambda wc: can(wc).ids,
            device=lambda wc: can(wc).device,
        ),
        batch_size=lambda wc: can(wc).evaluate.batch_size,
    threads: 1
    log:
        log_path("can_cross_{source}"),
    benchmark:
        benchmark_path("can_cross_{source}")
    conda:
        conda_env("classifier")
    script:
        "../workflow_scripts/can_cross.py"
