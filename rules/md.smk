# Force-field track: NVE and Langevin MD with the exported models through the ASE calculator;
# energy drift, time to first instability and g(r) against the test-split reference.

FF_MD = FF.get("md_stability", {})
MD_DIR = f"{RESULTS}/{{dataset}}/md"
MD_MODELS = FF_MD.get("models", ["student", "teacher"])


rule md_run:
    """Seeded NVE + Langevin runs of one exported model from test-split structures."""
    input:
        program=f"{EXPORT_DIR}/{{model}}/forcefield.stablehlo",
        check=f"{EXPORT_DIR}/{{model}}/check.json",
        frames=f"{RESULTS}/{{dataset}}/data/frames.parquet",
        splits=f"{RESULTS}/{{dataset}}/data/splits.json",
    output:
        trajectories=f"{MD_DIR}/{{model}}/trajectories.npz",
        summary=f"{MD_DIR}/{{model}}/summary.json",
    wildcard_constraints:
        model="teacher|student|baseline",
    params:
        md=FF_MD,
        seed=lambda wc: dataset_seed(wc.dataset),
    log:
        log_path("md_run_{model}"),
    benchmark:
        benchmark_path("md_run_{model}")
    script:
        "../workflow_scripts/md_run.py"


def md_figure(name, caption):
    return report(
        f"{MD_DIR}/figures/{name}.png",
        caption=f"../report/{caption}.rst",
        category="Force field",
        subcategory="{dataset}: MD stability",
        labels={"figure": name},
    )


rule md_report:
    """NVE energy, Langevin temperature and g(r) figures; one stability table."""
    input:
        trajectories=expand(f"{MD_DIR}/{{model}}/trajectories.npz", model=MD_MODELS,
                            allow_missing=True),
        summaries=expand(f"{MD_DIR}/{{model}}/summary.json", model=MD_MODELS,
                         allow_missing=True),
        frames=f"{RESULTS}/{{dataset}}/data/frames.parquet",
        splits=f"{RESULTS}/{{dataset}}/data/splits.json",
    output:
        nve=md_figure("nve_energy", "md_nve_energy"),
        langevin=md_figure("langevin_temperature", "md_langevin_temperature"),
        rdf=md_figure("rdf", "md_rdf"),
        table=report(
            f"{MD_DIR}/md_stability.csv",
            caption="../report/md_stability.rst",
            category="Force field",
            subcategory="{dataset}: MD stability",
            labels={"table": "MD stability"},
        ),
        summary=f"{MD_DIR}/md_stability.json",
    params:
        models=MD_MODELS,
        rdf=FF_MD.get("rdf", {"r_max": 5.0, "bins": 100}),
        temperature=FF_MD.get("temperature", 800.0),
    log:
        log_path("md_report"),
    benchmark:
        benchmark_path("md_report")
    script:
        "../workflow_scripts/md_report.py"


register_targets("forcefield", f"{MD_DIR}/md_stability.json")
