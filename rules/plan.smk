# Hardware-aware planning, asked for explicitly (`snakemake plan`, not part of `all`): real
# training steps of a force field measured on this machine, searched per development mode.

PLAN_DIR = f"{DATASET_DIR}/plan"


rule plan_dataset:
    """Per mode (prototype, validation, production) the force-field size and batch size that
    fit this machine, from measured training steps: a config overlay each, every trial."""
    input:
        frames=FRAMES,
        splits=SPLITS,
    output:
        prototype=f"{PLAN_DIR}/prototype.yaml",
        validation=f"{PLAN_DIR}/validation.yaml",
        production=f"{PLAN_DIR}/production.yaml",
        plan=f"{PLAN_DIR}/plan.json",
        table=report(
            f"{PLAN_DIR}/step_times.csv",
            caption="../report/plan.rst",
            category="Planning",
            subcategory="{dataset}",
            labels={"table": "measured step times per mode"},
        ),
    params:
        **settings_params(
            plan=SETTINGS.config.plan,
            dataset=lambda wc: dataset_cfg(wc.dataset),
            forcefield=ff,
            seed=lambda wc: dataset_seed(wc.dataset),
        ),
        # <results>/<dataset>/plan/plan.json: the results directory the package writes under
        results=lambda wc, output: str(Path(output.plan).parents[2]),
        cache_dir=JAX_CACHE,
    # step times are only worth planning on when no other job shares the machine
    threads: workflow.cores
    log:
        log_path("plan"),
    benchmark:
        benchmark_path("plan")
    conda:
        conda_env("forcefield")
    script:
        "../workflow_scripts/plan.py"


rule plan:
    """The plans of every configured force-field dataset."""
    input:
        [f"{PLAN_DIR}/plan.json".format(dataset=d) for d in datasets_for("forcefield")
         if d in DATASETS],
