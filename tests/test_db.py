"""The project database: built from a synthetic results/ tree written by the real writers
(metrics records, provenance, Snakemake benchmark TSVs, splits, run config)."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import sqlite3
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from snakemake.benchmark import BenchmarkRecord, write_benchmark_records

from distillery.data.splits import write_splits
from distillery.db import backfill, query, rebuild, write_through
from distillery.db.cli import main as db_cli
from distillery.errors import DistilleryError, InputError
from distillery.io import write_json, write_yaml
from distillery.metrics.record import (
    Goal,
    MetricsFile,
    ModelRecord,
    PrimaryMetric,
    Throughput,
    write_metrics,
)
from distillery.workflow import write_provenance

RUN_CONFIG = {
    "seed": 0,
    "results": "results",
    "datasets": {
        "md": {"track": "forcefield", "format": "npz", "generate": {"kind": "md_emt"}},
        "can": {"track": "classifier", "format": "can_csv", "generate": {"kind": "can_bus"}},
    },
    "forcefield": {"teacher": {"train": {"epochs": 10}}},
    "classifier": {"train": {"epochs": 5}},
    "report": {"kernel": "distillery"},
}


def _ff_record(student_mae: float = 0.06, models: tuple[str, ...] = ("teacher", "student"),
               extra_metric: str | None = None) -> MetricsFile:
    def model(name: str, mae: float) -> ModelRecord:
        metrics = {"force_mae": mae, "energy_mae_per_atom": mae / 20,
                   "latency": {"p50_ms": 3.0}, "per_element": [1.0, 2.0]}
        if extra_metric:
            metrics[extra_metric] = 1.5
        return ModelRecord(
            model=name, role=name, n_params=1000 if name == "teacher" else 100,
            size_bytes=4096, device="cpu", throughput=Throughput(value=12.5, unit="frames/s"),
            primary=PrimaryMetric(name="force_mae", value=mae, direction="minimize",
                                  unit="eV/Å"),
            goals=(Goal.check("force_mae_ratio", mae / 0.05, 1.25, "<="),),
            metrics=metrics)

    maes = {"teacher": 0.05, "student": student_mae, "baseline": 0.09}
    return MetricsFile(dataset="md", track="forcefield",
                       models=tuple(model(n, maes[n]) for n in models),
                       summary={"speedup_student_vs_teacher": 12.0,
                                "goals_met": {"speedup_at_least_10": True}})


def _can_record() -> MetricsFile:
    return MetricsFile(dataset="can", track="classifier", models=(
        ModelRecord(model="gat_teacher", role="teacher", n_params=5000,
                    primary=PrimaryMetric(name="f1_macro", value=0.97, direction="maximize"),
                    metrics={"f1_macro": 0.97, "accuracy": 0.98,
                             "auroc": float("nan"), "confusion": [[1, 0], [0, 1]]}),
        ModelRecord(model="mlp_kd", role="student", n_params=300,
                    primary=PrimaryMetric(name="f1_macro", value=0.95, direction="maximize"),
                    metrics={"f1_macro": 0.95, "accuracy": 0.96}),
    ))


def _job(rule: str, wildcards: dict[str, str], log: Path) -> SimpleNamespace:
    return SimpleNamespace(rule=rule, wildcards=wildcards, params={"epochs": 2},
                           input=["in.parquet"], output=["out.json"], log=[str(log)])


def _benchmark(path: Path, seconds: float, collected: bool = True, repeats: int = 1) -> None:
    records = []
    for _ in range(repeats):
        record = BenchmarkRecord(running_time=seconds, max_rss=120.5, max_vms=300.0,
                                 max_uss=100.0, max_pss=110.0, io_in=1.5, io_out=2.5,
                                 cpu_usage=seconds * 0.9, cpu_time=seconds * 0.8)
        record.data_collected = collected
        records.append(record)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_benchmark_records(records, str(path), False)


def _job_files(results: Path, dataset: str | None, name: str, rule: str,
               wildcards: dict[str, str], seconds: float, **bench: object) -> list[Path]:
    base = results / dataset if dataset else results
    log = base / "logs" / f"{name}.log"
    write_provenance(log.with_suffix(".provenance.json"), _job(rule, wildcards, log), seconds)
    _benchmark(base / "benchmarks" / f"{name}.tsv", seconds, **bench)
    return [log.with_suffix(".provenance.json"), base / "benchmarks" / f"{name}.tsv"]


def make_results(results: Path) -> None:
    """A results/ tree like a finished run of two datasets leaves behind."""
    write_metrics(results / "md" / "forcefield" / "metrics.json", _ff_record())
    write_metrics(results / "can" / "classifier" / "metrics.json", _can_record())
    _job_files(results, "md", "ff_train_teacher", "ff_train_teacher", {"dataset": "md"}, 42.0)
    _job_files(results, "md", "ingest", "ingest", {"dataset": "md"}, 1.0, collected=False,
               repeats=2)
    _job_files(results, "can", "can_train_student_mlp_kd", "can_train_student",
               {"dataset": "can", "student": "mlp", "mode": "kd"}, 7.0)
    _job_files(results, None, "data_summary", "data_summary", {}, 0.5)
    for name, n in (("md", 30), ("can", 50)):
        write_json(results / name / "data" / "summary.json",
                   {"dataset": name, "sources": [f"data/raw/{name}.npz"], "frames": n})
        idx = np.arange(n)
        write_splits(results / name / "data" / "splits.json",
                     {"train": idx[: n // 2], "val": idx[n // 2: n * 3 // 4],
                      "test": idx[n * 3 // 4:]}, strategy="random")
    write_yaml(results / "report" / "run_config.yaml", RUN_CONFIG)
    # neither of these is a result record: left out
    write_json(results / "cg" / "priors" / "metrics.json", {"dataset": "cg", "models": {}})
    write_json(results / "mlruns" / "md" / "abc" / "artifacts" / "metrics.json", {})


def dump(db: Path) -> dict[str, list[tuple]]:
    """Every table and view, rows sorted: what 'same contents' means."""
    conn = sqlite3.connect(db)
    names = [n for (n,) in conn.execute(
        "SELECT name FROM sqlite_master WHERE type IN ('table', 'view') ORDER BY name")]
    out = {n: sorted(conn.execute(f"SELECT * FROM {n}").fetchall(), key=repr) for n in names}
    out["schema"] = conn.execute("SELECT type, name, sql FROM sqlite_master "
                                 "ORDER BY name").fetchall()
    conn.close()
    return out


@pytest.fixture
def results(tmp_path: Path) -> Path:
    make_results(tmp_path / "results")
    return tmp_path / "results"


def test_rebuild_answers_the_questions_the_issue_asks(results: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    report = rebuild(results)
    db = results / "project.db"
    assert report.rows["models"] == 4 and report.rows["runs"] == 4
    assert list(report.skipped) == [str(results / "cg" / "priors" / "metrics.json")]
    assert "cg/priors/metrics.json: left out" in capsys.readouterr().err

    _, rows = query(db, "select model, force_mae from metrics where dataset='md' order by model")
    assert rows == [("student", 0.06), ("teacher", 0.05)]
    _, rows = query(db, "select model, value from metric_values "
                        "where dataset='md' and metric='force_mae' order by model")
    assert rows == [("student", 0.06), ("teacher", 0.05)]
    _, rows = query(db, 'select model, role, n_params, throughput, "latency.p50_ms", '
                        "goals_passed, goals_total, primary_metric, source from metrics "
                        "where dataset='md' and model='student'")
    assert rows == [("student", "student", 100, 12.5, 3.0, 1, 1, "force_mae",
                     "md/forcefield/metrics.json")]
    # NaN is stored as NULL; lists have no single value and stay out
    _, rows = query(db, "select model, auroc, accuracy, f1_macro from metrics "
                        "where dataset='can' order by model")
    assert rows == [("gat_teacher", None, 0.98, 0.97), ("mlp_kd", None, 0.96, 0.95)]
    _, rows = query(db, "select count(*) from metric_values where metric like 'confusion%' "
                        "or metric like 'per_element%'")
    assert rows == [(0,)]
    _, rows = query(db, "select model, goal, passed from goals order by model")
    assert rows == [("student", "force_mae_ratio", 1), ("teacher", "force_mae_ratio", 1)]
    _, rows = query(db, "select key, value from summaries order by key")
    assert rows == [("goals_met.speedup_at_least_10", 1.0), ("speedup_student_vs_teacher", 12.0)]

    _, rows = query(db, "select rule, dataset, wildcards, variant, seconds, started, finished, "
                        "host, provenance from runs where path = "
                        "'can/logs/can_train_student_mlp_kd.provenance.json'")
    [(rule, dataset, wildcards, variant, seconds, started, finished, host, provenance)] = rows
    assert (rule, dataset, variant, seconds) == ("can_train_student", "can", "default", 7.0)
    assert json.loads(wildcards) == {"dataset": "can", "student": "mlp", "mode": "kd"}
    assert json.loads(provenance)["params"] == {"epochs": 2} and host
    fmt = "%Y-%m-%dT%H:%M:%S%z"
    assert (dt.datetime.strptime(finished, fmt) - dt.datetime.strptime(started, fmt)
            ).total_seconds() == 7.0
    _, rows = query(db, "select dataset from runs where rule = 'data_summary'")
    assert rows == [(None,)]

    _, rows = query(db, "select rule, dataset, wildcards, repeat, s, h_m_s, max_rss, "
                        "mean_load, cpu_time from benchmarks order by rule, repeat")
    assert rows == [
        ("can_train_student", "can", json.dumps({"dataset": "can", "mode": "kd",
                                                 "student": "mlp"}), 0, 7.0, "0:00:07",
         120.5, pytest.approx(0.9, abs=0.01), 5.6),
        ("data_summary", None, "{}", 0, 0.5, "0:00:00", 120.5, pytest.approx(0.9, abs=0.01),
         0.4),
        ("ff_train_teacher", "md", '{"dataset": "md"}', 0, 42.0, "0:00:42", 120.5,
         pytest.approx(0.9, abs=0.01), pytest.approx(33.6)),
        ("ingest", "md", '{"dataset": "md"}', 0, 1.0, "0:00:01", None, None, None),
        ("ingest", "md", '{"dataset": "md"}', 1, 1.0, "0:00:01", None, None, None),
    ]

    _, rows = query(db, "select name, track, format, n_frames, n_train, n_val, n_test "
                        "from datasets order by name")
    assert rows == [("can", "classifier", "can_csv", 50, 25, 12, 13),
                    ("md", "forcefield", "npz", 30, 15, 7, 8)]
    _, rows = query(db, "select dataset, variant, config from configs order by dataset")
    assert [(d, v) for d, v, _ in rows] == [("can", "default"), ("md", "default")]
    md_config = json.loads(rows[1][2])
    assert md_config["datasets"] == {"md": RUN_CONFIG["datasets"]["md"]}
    assert "forcefield" in md_config and "classifier" not in md_config
    assert md_config["seed"] == 0 and md_config["report"] == {"kernel": "distillery"}


def test_rebuild_twice_gives_identical_tables_and_matches_write_through(results: Path,
                                                                        tmp_path: Path) -> None:
    db = results / "project.db"
    rebuild(results)
    first = dump(db)
    rebuild(results)
    assert dump(db) == first

    # the same files written through one job at a time, in another order, agree with rebuild
    other = tmp_path / "through.db"
    files = sorted((p for p in results.rglob("*") if p.is_file() and "mlruns" not in p.parts
                    and p.name != "project.db" and p.parent.name != "priors"), reverse=True)
    for path in files:
        write_through(other, results, [path])
    assert dump(other) == first


def test_rerun_replaces_its_rows_and_new_metrics_become_columns(results: Path) -> None:
    db = results / "project.db"
    rebuild(results)
    metrics = results / "md" / "forcefield" / "metrics.json"
    write_metrics(metrics, _ff_record(0.07, models=("teacher", "baseline"),
                                      extra_metric="stability"))
    assert write_through(db, results, [metrics, results / "md" / "other.txt"]) == {
        "metrics": 2 + 2 * 7 + 2 + 2}  # models, values, goals, summary
    _, rows = query(db, "select model, force_mae, stability from metrics where dataset='md' "
                        "order by model")
    assert rows == [("baseline", 0.09, 1.5), ("teacher", 0.05, 1.5)]
    _, rows = query(db, "select count(*) from metric_values where model = 'student'")
    assert rows == [(0,)]
    # the classifier's rows were not touched
    _, rows = query(db, "select count(*) from models where dataset = 'can'")
    assert rows == [(2,)]

    provenance = results / "md" / "logs" / "ff_train_teacher.provenance.json"
    log = provenance.with_suffix("").with_suffix(".log")
    write_provenance(provenance, _job("ff_train_teacher", {"dataset": "md"}, log), 99.0)
    write_through(db, results, [provenance])
    _, rows = query(db, "select seconds from runs where rule = 'ff_train_teacher'")
    assert rows == [(99.0,)]


def test_write_through_rejects_a_metrics_file_of_another_shape(results: Path) -> None:
    with pytest.raises(InputError, match="distillery.metrics/1"):
        write_through(results / "project.db", results,
                      [results / "cg" / "priors" / "metrics.json"])
    with pytest.raises(InputError, match="missing"):
        write_through(results / "project.db", results,
                      [results / "md" / "logs" / "x.provenance.json"])


def test_write_through_goes_on_when_the_database_stays_locked(
        results: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = results / "project.db"
    rebuild(results)
    before = dump(db)
    capsys.readouterr()
    holder = sqlite3.connect(db, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        metrics = results / "md" / "forcefield" / "metrics.json"
        write_metrics(metrics, _ff_record(0.5))
        assert write_through(db, results, [metrics], timeout=0.2) == {}
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and err[0].startswith("WARNING: project database")
        assert "distillery.db rebuild" in err[0]
        with pytest.raises(DistilleryError, match="locked"):
            write_through(db, results, [metrics], strict=True, timeout=0.2)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert dump(db) == before


def test_a_crash_during_rebuild_leaves_the_old_database(results: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    db = results / "project.db"
    rebuild(results)
    before = dump(db)
    write_metrics(results / "md" / "forcefield" / "metrics.json", _ff_record(0.5))
    real_fill = backfill._fill

    def crash(conn, *args):
        real_fill(conn, *args)
        raise RuntimeError("killed")

    monkeypatch.setattr(backfill, "_fill", crash)
    with pytest.raises(RuntimeError):
        rebuild(results)
    assert dump(db) == before
    assert sorted(p.name for p in results.iterdir() if "project" in p.name) == ["project.db"]


def test_extended_benchmark_columns_are_kept(tmp_path: Path) -> None:
    results = tmp_path / "results"
    path = results / "md" / "benchmarks" / "ingest.tsv"
    path.parent.mkdir(parents=True)
    header = BenchmarkRecord.get_header(extended_fmt=True)
    values = ["3.2", "0:00:03", "10", "20", "5", "6", "0.1", "0.2", "50", "1.6",
              "7", "ingest", "{'dataset': 'md'}", "{}", "1", "1.6", "{}", "0.5"]
    path.write_text("\t".join(header) + "\n" + "\t".join(values) + "\n")
    write_through(results / "project.db", results, [path])
    _, [(rule, s, extra)] = query(results / "project.db",
                                  "select rule, s, extra from benchmarks")
    assert (rule, s) == ("ingest", 3.2)
    assert json.loads(extra)["threads"] == "1" and json.loads(extra)["jobid"] == "7"


def test_query_is_read_only(results: Path) -> None:
    rebuild(results)
    with pytest.raises(DistilleryError, match="readonly"):
        query(results / "project.db", "delete from runs")
    with pytest.raises(DistilleryError, match="no project database"):
        query(results / "nowhere.db", "select 1")


def test_command_line(results: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert db_cli(["rebuild", "--results", str(results)]) == 0
    out = capsys.readouterr().out
    assert "models 4" in out and "1 file(s) left out" in out

    sql = "select model, force_mae from metrics where dataset='md' order by model"
    assert db_cli(["--results", str(results), "query", sql]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["model", "force_mae"]
    assert [line.split() for line in lines[2:]] == [["student", "0.06"], ["teacher", "0.05"]]

    assert db_cli(["query", sql, "--csv", "--results", str(results)]) == 0
    assert list(csv.reader(io.StringIO(capsys.readouterr().out))) == [
        ["model", "force_mae"], ["student", "0.06"], ["teacher", "0.05"]]

    assert db_cli(["--db", str(results / "project.db"), "query", "--json",
                   "select model, auroc from metrics where dataset='can' order by model"]) == 0
    assert json.loads(capsys.readouterr().out) == [{"model": "gat_teacher", "auroc": None},
                                                   {"model": "mlp_kd", "auroc": None}]

    assert db_cli(["--results", str(results), "query", "select nope from metrics"]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("ERROR:") and "no such column: nope" in err and "\n" not in err


def test_module_entry_point_runs(results: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "distillery.db", "rebuild", "--results",
                           str(results)], capture_output=True, text=True, check=True)
    assert "runs 4" in done.stdout


def test_metric_names_that_clash_with_columns_stay_in_the_long_table(tmp_path: Path) -> None:
    results = tmp_path / "results"
    record = MetricsFile(dataset="x", track="classifier", models=(ModelRecord(
        model="m", role="student", n_params=7,
        primary=PrimaryMetric(name="F1", value=0.5, direction="maximize"),
        metrics={"F1": 0.5, "f1": 0.4, "role": 3.0, "n_params": 8, 'odd"name': 1.0}),))
    write_metrics(results / "x" / "metrics.json", record)
    rebuild(results)
    db = results / "project.db"
    columns, rows = query(db, "select * from metrics")
    assert columns[-2:] == ["F1", 'odd"name'] and rows[0][-2:] == (0.5, 1.0)
    assert dict(zip(columns, rows[0], strict=True))["role"] == "student"
    assert dict(zip(columns, rows[0], strict=True))["n_params"] == 7
    _, rows = query(db, "select metric, value from metric_values order by metric")
    assert rows == [("F1", 0.5), ("f1", 0.4), ("n_params", 7.0), ('odd"name', 1.0),
                    ("role", 3.0), ("size_bytes", None)]
