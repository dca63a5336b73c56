# Force-field track: test-split metrics, parity plots, error histograms and inference speed of
# the teacher, the distilled student and the baseline student.

FF_MODELS = ("teacher", "student", "baseline")


def ff_figure(kind, model):
    return report(
        f"{FF_DIR}/figures/{kind}_{model}.png",
        caption=f"../report/ff_{kind}.rst",
        category="Force field",
        subcategory="{dataset}",
        labels={"model": model, "figure": kind},
    )


rule ff_evaluate:
    """Energy/force errors against the reference labels, throughput and student speed-up."""
    input:
        frames=f"{RESULTS}/{{dataset}}/data/frames.parquet",
        splits=f"{RESULTS}/{{dataset}}/data/splits.json",
        **{m: f"{FF_DIR}/{m}/model.pkl" for m in FF_MODELS},
    output:
        metrics=f"{FF_DIR}/metrics.json",
        **{f"parity_{m}": ff_figure("parity", m) for m in FF_MODELS},
        **{f"errors_{m}": ff_figure("errors", m) for m in FF_MODELS},
    params:
        evaluate=FF.get("evaluate", {}),
        cache_dir=FF_CACHE,
    log:
        log_path("ff_evaluate"),
    benchmark:
        benchmark_path("ff_evaluate")
    script:
        "../workflow_scripts/ff_evaluate.py"


register_targets("forcefield", f"{FF_DIR}/metrics.json")
