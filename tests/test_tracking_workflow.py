"""One tiny workflow run with tracking on, against a live `mlflow server` on 127.0.0.1: one
MLflow run per training and evaluation job (params, per-epoch and final metrics, artifacts),
the project database answering SQL and rebuilding to the same content, and a three-seed
sweep folded into mean ± std by the leaderboard."""

from __future__ import annotations

import json
import re
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from distillery.io import read_json
from distillery.report.leaderboard import build_leaderboard
from distillery.tracking.pending import list_pending
from tests.conftest import BACKGROUND, DEFAULT_CONFIG, ROOT, TINY_CONFIG, BackgroundRun
from tests.mlflow_server import MLFLOW, SERVER
from tests.test_tracking import _client

pytestmark = pytest.mark.skipif(not MLFLOW.exists(), reason="mlflow CLI not installed")

SWEEP_CONFIG = ROOT / "tests" / "configs" / "sweep.yaml"
SEEDS = (0, 1, 2)
# the force-field and coarse-grained tracks on their generated datasets, which the shared tiny
# run also built: this second run must repeat its results exactly (the classifier's runs repeat
# exactly in tests/test_kill_and_resume.py; the teacher-driven and OpenMM datasets take the
# same code paths)
REPEATED = ("results/md/forcefield/metrics.json", "results/md/md/md_stability.json",
            "results/cg/priors/metrics.json", "results/cg/priors/simulation.json",
            "results/cg/priors/fit_summary.json")
TARGETS = (*REPEATED, *(f"results/cg--rep_seed{s}/priors/metrics.json" for s in SEEDS))
TRACKED = {"ff_train", "ff_evaluate", "cg_train_delta", "cg_evaluate_modes", "cg_simulate"}
# wall-clock figures: throughput, latency, speed-ups and timings differ from run to run
_TIMING = re.compile(r"per_s|_s$|seconds|speedup|latency|compile|_ms$|throughput|peak_rss|memory")
_RESULT_FILES = ("metrics.json", "fit_summary.json", "simulation.json", "md_stability.json",
                 "check.json")


def _prepare(run: BackgroundRun) -> None:
    # the generated raw data is compared byte for byte in test_slurm_cluster; start from it
    shutil.copytree(BACKGROUND.runs["tiny"].workdir / "data", run.workdir / "data")
    overlay = run.workdir / "server.yaml"
    overlay.write_text(json.dumps({"tracking": {"uri": SERVER.start()}}))
    run.configfiles = (*run.configfiles, overlay)


def background_runs(scratch: Path) -> dict[str, BackgroundRun]:
    """The tracked run, in the background once the tiny run is done (tests/conftest.py)."""
    if not MLFLOW.exists():
        return {}
    workdir = scratch / "tracked"
    workdir.mkdir()
    return {"tracked": BackgroundRun(workdir, TARGETS, (DEFAULT_CONFIG, TINY_CONFIG, SWEEP_CONFIG),
                                     after_tiny=True, prepare=_prepare)}


@pytest.fixture(scope="module")
def run() -> Path:
    return BACKGROUND.wait("tracked").workdir


def _without_timings(value):
    if isinstance(value, dict):
        # a goal on a timing (e.g. the speed-up) keeps its name and threshold only
        timed_goal = isinstance(value.get("name"), str) and _TIMING.search(value["name"])
        return {k: _without_timings(v) for k, v in value.items() if not _TIMING.search(k)
                and not (timed_goal and k in ("value", "passed"))}
    if isinstance(value, list):
        return [_without_timings(v) for v in value]
    return value


def test_a_second_run_with_tracking_on_repeats_the_results(run: Path, tiny_run: Path) -> None:
    files = sorted(p.relative_to(run) for base in ("md", "cg")
                   for p in (run / "results" / base).rglob("*.json") if p.name in _RESULT_FILES)
    assert {str(f) for f in files} >= set(REPEATED) and len(files) >= 6
    for rel in files:
        assert _without_timings(read_json(run / rel)) == _without_timings(
            read_json(tiny_run / rel)), rel


def _jobs(results: Path) -> set[tuple[str, str]]:
    """(rule, wildcards as JSON) of every tracked job that ran, from its provenance."""
    jobs = set()
    for path in results.glob("*/logs/*.provenance.json"):
        data = json.loads(path.read_text())
        if data["rule"] in TRACKED:
            jobs.add((data["rule"], json.dumps(data["wildcards"], sort_keys=True)))
    return jobs


def test_one_mlflow_run_per_training_and_evaluation_job(run: Path, server: str) -> None:
    client = _client(server)
    runs = [r for name in ("md", "cg")
            for r in client.search_runs([client.get_experiment_by_name(name).experiment_id])]
    found = {(r.data.tags["rule"], r.data.tags["wildcards"]) for r in runs}
    # md: teacher, student, student_small and baseline trained, one evaluation; cg: delta
    # training, evaluation and simulation; each seed of the sweep the same three (the
    # evaluation's record holds the simulation's goals)
    assert len(runs) == len(found) == len(_jobs(run / "results")) == 5 + 3 + 3 * len(SEEDS)
    assert found == _jobs(run / "results")
    commits = {r.data.tags["git_commit"] for r in runs}
    assert len({r.data.tags["snakemake_run_id"] for r in runs}) == 1 and "" not in commits
    for r in runs:
        assert r.info.status == "FINISHED"
        assert r.data.params and r.data.metrics, r.info.run_name
        assert client.list_artifacts(r.info.run_id), r.info.run_name
    assert not list_pending(run / "results")


def test_training_runs_log_every_epoch_and_evaluation_runs_the_record(
        run: Path, server: str) -> None:
    client = _client(server)
    md = client.get_experiment_by_name("md").experiment_id
    student = client.search_runs(
        [md], "tags.rule = 'ff_train' and tags.`wildcard.model` = 'student'")[0]
    history = pd.read_csv(run / "results/md/forcefield/student/history.csv")
    logged = client.get_metric_history(student.info.run_id, "val_loss")
    assert [m.step for m in logged] == history["epoch"].tolist()
    assert [m.value for m in logged] == pytest.approx(history["val_loss"].tolist())
    assert int(student.data.params["role.train.epochs"]) >= len(history)
    evaluation = client.search_runs([md], "tags.rule = 'ff_evaluate'")[0]
    record = json.loads((run / "results/md/forcefield/metrics.json").read_text())
    student_mae = next(m["primary"]["value"] for m in record["models"]
                       if m["model"] == "student")  # force_mae is the primary metric
    assert evaluation.data.metrics["student.force_mae"] == pytest.approx(student_mae)
    artifacts = {a.path for a in client.list_artifacts(evaluation.info.run_id)}
    assert {"metrics.json", "figures"} <= artifacts
    cg = client.get_experiment_by_name("cg").experiment_id
    variants = {r.data.tags["variant"] for r in client.search_runs([cg])}
    assert variants == {"default", *(f"rep_seed{s}" for s in SEEDS)}


def test_project_db_answers_the_query_and_rebuilds_the_same(run: Path) -> None:
    db = [sys.executable, "-m", "distillery.db"]
    out = subprocess.run([*db, "query", "--json",
                          "select model, force_mae from metrics where dataset='md'"],
                         cwd=run, capture_output=True, text=True, check=True).stdout
    rows = {r["model"]: r["force_mae"] for r in json.loads(out)}
    record = json.loads((run / "results/md/forcefield/metrics.json").read_text())
    assert rows == pytest.approx({m["model"]: m["primary"]["value"]
                                  for m in record["models"]})

    def dump() -> list[str]:
        with sqlite3.connect(run / "results/project.db") as conn:
            return list(conn.iterdump())

    # the workflow's own end-of-run rebuild already holds every job's benchmark
    with sqlite3.connect(run / "results/project.db") as conn:
        assert conn.execute("select count(*) from benchmarks").fetchone()[0] >= 4 + 2 * len(SEEDS)
    subprocess.run([*db, "rebuild"], cwd=run, check=True, capture_output=True)
    first = dump()
    subprocess.run([*db, "rebuild"], cwd=run, check=True, capture_output=True)
    assert dump() == first


def test_three_seed_sweep_gives_mean_and_std_in_the_leaderboard(run: Path) -> None:
    sources = [f"cg--rep_seed{s}/priors/metrics.json" for s in SEEDS]
    maes = [json.loads((run / "results" / p).read_text())["models"][0]["primary"]["value"]
            for p in sources]
    # the database the workflow's end-of-run rebuild left
    table = build_leaderboard(run / "results/project.db", sources)
    first = json.loads((run / "results" / sources[0]).read_text())["models"][0]["model"]
    row = table[table["model"] == first]
    assert row["variant"].tolist() == ["rep"] and row["n_seeds"].tolist() == [3]
    assert row["primary_value"].iloc[0] == pytest.approx(sum(maes) / 3)
    assert row["primary_std"].iloc[0] == pytest.approx(float(np.std(maes, ddof=1)))
