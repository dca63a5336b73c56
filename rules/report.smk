# Results users read: learning curves per dataset, the leaderboard of every model, the table of
# every job's benchmark, the run's configuration and the executed analytics notebook.
# Included last (after the track rule files), so every track's targets are registered here.

REPORT_DIR = f"{RESULTS}/report"
REPORT_CFG = config.get("report", {})
LEARNING_CURVES = f"{RESULTS}/{{dataset}}/report/learning_curves.svg"
# rules that run after the benchmark collector: their benchmark files would be stale
_AFTER_BENCHMARKS = ("benchmarks_table", "analytics_notebook")

for _track in _TRACK_TARGETS:
    register_targets(_track, LEARNING_CURVES)


def track_targets(dataset=None):
    """Registered final outputs of the track rules (of one dataset, or of all), not ours."""
    return [
        pattern.format(dataset=name)
        for track, patterns in _TRACK_TARGETS.items()
        for name in datasets_for(track)
        if dataset in (None, name)
        for pattern in patterns
        if pattern != LEARNING_CURVES
    ]


def leaderboard_sources():
    """[dataset, track, path] of every registered metrics.json (one per dataset and track)."""
    return [
        [name, track, pattern.format(dataset=name)]
        for track, patterns in _TRACK_TARGETS.items()
        for name in datasets_for(track)
        for pattern in patterns
        if pattern.endswith("/metrics.json")
    ]


def benchmark_patterns():
    """{rule: benchmark file pattern} of every rule that has one."""
    return {r.name: str(r.benchmark) for r in workflow.rules if isinstance(r.benchmark, str)}


rule learning_curves:
    """Train and val curves per epoch of every model trained for a dataset."""
    input:
        lambda wc: track_targets(wc.dataset),
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
        log_path("learning_curves"),
    benchmark:
        benchmark_path("learning_curves")
    script:
        "../workflow_scripts/report_learning_curves.py"


rule leaderboard:
    """Every model of every dataset in one table: role, size, headline metric, throughput."""
    input:
        lambda wc: [path for _, _, path in leaderboard_sources()],
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
        sources=lambda wc: leaderboard_sources(),
    log:
        f"{RESULTS}/logs/leaderboard.log",
    benchmark:
        f"{RESULTS}/benchmarks/leaderboard.tsv"
    script:
        "../workflow_scripts/report_leaderboard.py"


rule benchmarks_table:
    """Wall time, peak memory and CPU load of every job, from the benchmark TSVs.

    A rule cannot list the benchmark files of other rules as inputs, so this one depends on
    every final target (whose jobs then have all finished) and globs `benchmarks/*.tsv`.
    """
    input:
        lambda wc: [*_track_and_data_targets(), *rules.leaderboard.output],
    output:
        parquet=f"{REPORT_DIR}/benchmarks.parquet",
        html=report(
            f"{REPORT_DIR}/benchmarks.html",
            caption="../report/benchmarks.rst",
            category="Benchmarks",
            labels={"view": "time and memory per job"},
        ),
    params:
        root=RESULTS,
        exclude=list(_AFTER_BENCHMARKS),
        patterns=lambda wc: benchmark_patterns(),
    log:
        f"{RESULTS}/logs/benchmarks_table.log",
    benchmark:
        f"{RESULTS}/benchmarks/benchmarks_table.tsv"
    script:
        "../workflow_scripts/report_benchmarks.py"


rule run_config:
    """The configuration of this run, rewritten whenever it changes."""
    output:
        f"{REPORT_DIR}/run_config.yaml",
    params:
        config=config,
    log:
        f"{RESULTS}/logs/run_config.log",
    benchmark:
        f"{RESULTS}/benchmarks/run_config.tsv"
    script:
        "../workflow_scripts/report_run_config.py"


rule analytics_notebook:
    """notebooks/analytics.ipynb executed by papermill, kept as .ipynb and rendered to HTML."""
    input:
        notebook=Path(workflow.basedir, "notebooks", "analytics.ipynb"),
        leaderboard=rules.leaderboard.output.parquet,
        benchmarks=rules.benchmarks_table.output.parquet,
        run_config=rules.run_config.output[0],
    output:
        ipynb=f"{REPORT_DIR}/analytics.ipynb",
        html=report(
            f"{REPORT_DIR}/analytics.html",
            caption="../report/analytics.rst",
            category="Analytics",
            labels={"notebook": "analytics"},
        ),
    params:
        results=RESULTS,
        datasets=list(DATASETS),
        compare_with=REPORT_CFG.get("compare_with")
        or str(Path(workflow.basedir, "config", "config.yaml")),
        kernel=REPORT_CFG.get("kernel", "distillery"),
    log:
        f"{RESULTS}/logs/analytics_notebook.log",
    benchmark:
        f"{RESULTS}/benchmarks/analytics_notebook.tsv"
    script:
        "../workflow_scripts/report_notebook.py"


REPORT_TARGETS = [*rules.leaderboard.output, *rules.benchmarks_table.output,
                  *rules.analytics_notebook.output]
_track_and_data_targets = all_targets


def all_targets():
    """Everything `rule all` builds: the tracks' final outputs plus the run-wide report files.

    Wraps the registry's function: the run-wide outputs have no {dataset} to register.
    """
    return _track_and_data_targets() + REPORT_TARGETS
