# Results users read: learning curves per dataset, the leaderboard of every model, the table of
# every job's benchmark, the run's configuration and the executed analytics notebook. Inputs
# are functions of the target registry in common.smk, evaluated once every file is included.
# The leaderboard and the notebook read the project database, after db_sync has loaded it.

rule report_learning_curves:
    """Train and val curves per epoch of every model trained for a dataset."""
    input:
        lambda wc: track_targets(wc.dataset, exclude=(LEARNING_CURVES,)),
    output:
        report(
            LEARNING_CURVES,
            caption="../report/learning_curves.rst",
            category="Learning curves",
            subcategory="{dataset}",
            labels={"dataset": "{dataset}", "figure": "train vs val per epoch"},
        ),
    params:
        root=lambda wc: f"{RESULTS}/{wc.dataset}",
    log:
        log_path("report_learning_curves"),
    benchmark:
        benchmark_path("report_learning_curves")
    conda:
        conda_env("report")
    script:
        "../workflow_scripts/report_learning_curves.py"

rule db_sync:
    """Every registered metrics record (re)loaded into the project database in one transaction,
    and the list of what was loaded.

    Not PROJECT_DB itself as output: every job writes to it, so Snakemake would delete it
    before this job and see it newer than the leaderboard after any later job.
    """
    input:
        lambda wc: registered_metrics(),
    output:
        DB_SYNC,
    params:
        db=PROJECT_DB,
        results=lambda wc, output: str(Path(output[0]).parents[1]),
    log:
        f"{RESULTS}/logs/db_sync.log",
    benchmark:
        f"{RESULTS}/benchmarks/db_sync.tsv"
    conda:
        conda_env("report")
    script:
        "../workflow_scripts/db_sync.py"

rule report_leaderboard:
    """Every model of every dataset in one table: role, size, headline metric, throughput; by
    SQL from the project database, the records db_sync loaded."""
    input:
        db_sync=DB_SYNC,
    output:
        parquet=f"{REPORT_DIR}/leaderboard.parquet",
        csv=report(
            f"{REPORT_DIR}/leaderboard.csv",
            caption="../report/leaderboard.rst",
            category="Leaderboard",
            labels={"view": "table (CSV)"},
        ),
        html=report(
            f"{REPORT_DIR}/leaderboard.html",
            caption="../report/leaderboard.rst",
            category="Leaderboard",
            labels={"view": "table"},
        ),
        plot=report(
            f"{REPORT_DIR}/metric_vs_size.svg",
            caption="../report/metric_vs_size.rst",
            category="Leaderboard",
            labels={"view": "accuracy vs size"},
        ),
    params:
        db=PROJECT_DB,
    log:
        f"{RESULTS}/logs/report_leaderboard.log",
    benchmark:
        f"{RESULTS}/benchmarks/report_leaderboard.tsv"
    conda:
        conda_env("report")
    script:
        "../workflow_scripts/report_leaderboard.py"

rule report_benchmarks:
    """Wall time, peak memory and CPU load of every job, from the benchmark TSVs.

    A rule cannot list the benchmark files of other rules as inputs, so this one depends on
    every final target (whose jobs then have all finished) and globs `benchmarks/*.tsv`.
    """
    input:
        lambda wc: [*track_targets(), f"{RESULTS}/data_summary.csv",
                    *rules.report_leaderboard.output],
    output:
        parquet=f"{REPORT_DIR}/benchmarks.parquet",
        html=report(
            f"{REPORT_DIR}/benchmarks.html",
            caption="../report/benchmarks.rst",
            category="Benchmarks",
            labels={"view": "time and memory per job"},
        ),
    params:
        root=lambda wc, output: str(Path(output.parquet).parents[1]),
        exclude=list(_AFTER_BENCHMARKS),
        patterns=lambda wc: benchmark_patterns(),
        db=PROJECT_DB,
    log:
        f"{RESULTS}/logs/report_benchmarks.log",
    benchmark:
        f"{RESULTS}/benchmarks/report_benchmarks.tsv"
    conda:
        conda_env("report")
    script:
        "../workflow_scripts/report_benchmarks.py"

rule report_run_config:
    """The configuration of this run, rewritten whenever it changes."""
    output:
        f"{REPORT_DIR}/run_config.yaml",
    params:
        **settings_params(config=SETTINGS.config),
    log:
        f"{RESULTS}/logs/report_run_config.log",
    benchmark:
        f"{RESULTS}/benchmarks/report_run_config.tsv"
    conda:
        conda_env("report")
    script:
        "../workflow_scripts/report_run_config.py"

rule report_notebook:
    """notebooks/analytics.ipynb executed by papermill, kept as .ipynb and rendered to HTML; its
    tables come from the project database."""
    input:
        notebook=Path(workflow.basedir, "notebooks", "analytics.ipynb"),
        db_sync=DB_SYNC,
        # not read: report_benchmarks loads the benchmark TSVs into the database
        benchmarks=rules.report_benchmarks.output.parquet,
        run_config=rules.report_run_config.output[0],
    output:
        ipynb=f"{REPORT_DIR}/analytics.ipynb",
        html=report(
            f"{REPORT_DIR}/analytics.html",
            caption="../report/analytics.rst",
            category="Analytics",
            labels={"notebook": "analytics"},
        ),
    params:
        results=lambda wc, output: str(Path(output.ipynb).parents[1]),
        datasets=list(DATASETS),
        db=PROJECT_DB,
        exclude_rules=list(_AFTER_BENCHMARKS),
        compare_with=SETTINGS.config.report.compare_with
        or str(Path(workflow.basedir, "config", "config.yaml")),
        kernel=SETTINGS.config.report.kernel,
    log:
        f"{RESULTS}/logs/report_notebook.log",
    benchmark:
        f"{RESULTS}/benchmarks/report_notebook.tsv"
    conda:
        conda_env("report")
    script:
        "../workflow_scripts/report_notebook.py"

register_run_targets(
    *rules.report_leaderboard.output,
    *rules.report_benchmarks.output,
    *rules.report_notebook.output,
)
