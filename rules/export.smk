# Force-field track: trained models -> jax.export (StableHLO) programs + parameters that run
# without the training code (loader: distillery.forcefield.export.jax_loader, ASE calculator:
# distillery.forcefield.ase_calculator.DistilleryCalculator), checked against the in-process model.

FF_EXPORT = FF.get("export", {})
EXPORT_DIR = f"{RESULTS}/{{dataset}}/export"


rule ff_export:
    """StableHLO energy/forces/virial program of one model, checked on test frames."""
    input:
        model=f"{FF_DIR}/{{model}}/model.pkl",
        frames=f"{RESULTS}/{{dataset}}/data/frames.parquet",
        splits=f"{RESULTS}/{{dataset}}/data/splits.json",
    output:
        program=f"{EXPORT_DIR}/{{model}}/forcefield.stablehlo",
        params=f"{EXPORT_DIR}/{{model}}/params.npz",
        meta=f"{EXPORT_DIR}/{{model}}/forcefield.json",
        check=f"{EXPORT_DIR}/{{model}}/check.json",
    wildcard_constraints:
        model="teacher|student|baseline",
    params:
        export=FF_EXPORT,
    log:
        log_path("ff_export_{model}"),
    benchmark:
        benchmark_path("ff_export_{model}")
    script:
        "../workflow_scripts/export_forcefield.py"


register_targets(
    "forcefield",
    *(f"{EXPORT_DIR}/{m}/check.json" for m in ("student", "baseline")),
)


# Classifier track: the distilled students as TorchScript (every architecture) and ONNX (the
# graph-free MLP; GATConv cannot be exported to ONNX, see distillery.can.export).
CAN_EXPORTED = [f"{s}_kd" for s in CAN_STUDENTS]
CAN_ONNX = [f"{s}_kd" for s, arch in CLASSIFIER.get("students", {}).items()
            if arch.get("kind") == "mlp"]
CAN_EXPORT_DIR = f"{RESULTS}/{{dataset}}/export/classifier"


rule can_export:
    """One student in one format, checked against the in-process logits on test graphs."""
    input:
        model=f"{CAN_DIR}/models/{{model}}.pt",
        graphs=f"{CAN_DIR}/graphs/test.pt",
    output:
        model=f"{CAN_EXPORT_DIR}/{{model}}/model.{{format}}",
        check=f"{CAN_EXPORT_DIR}/{{model}}/check_{{format}}.json",
    wildcard_constraints:
        model="|".join(CAN_EXPORTED) or "NONE",
        format="torchscript|onnx",
    params:
        format=lambda wc: wc.format,
        check_graphs=64,
        tolerance=1e-4,  # logits, float32
    log:
        f"{RESULTS}/{{dataset}}/logs/can_export_{{model}}_{{format}}.log",
    benchmark:
        f"{RESULTS}/{{dataset}}/benchmarks/can_export_{{model}}_{{format}}.tsv"
    script:
        "../workflow_scripts/export_classifier.py"


register_targets(
    "classifier",
    *(f"{CAN_EXPORT_DIR}/{m}/check_torchscript.json" for m in CAN_EXPORTED),
    *(f"{CAN_EXPORT_DIR}/{m}/check_onnx.json" for m in CAN_ONNX),
)
