"""MLflow tracking against a real `mlflow server`, the local SQLite store, the pending queue
and its replay, strict mode, and a disabled tracker that never imports mlflow."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
import uuid
from pathlib import Path
from types import SimpleNamespace

import pytest
from pydantic import BaseModel

from distillery.errors import DistilleryError
from distillery.metrics.record import Goal, MetricsFile, ModelRecord, PrimaryMetric, Throughput
from distillery.tracking import TrackingSettings, tracked_job, tracked_run
from distillery.tracking.cli import main as tracking_cli
from distillery.tracking.flatten import clean_key, param_values, record_metrics
from distillery.tracking.pending import list_pending, read_pending
from distillery.tracking.sync import sync
from tests.mlflow_server import MLFLOW, free_port

pytestmark = pytest.mark.skipif(not MLFLOW.exists(), reason="mlflow CLI not installed")


@pytest.fixture
def prefix() -> str:
    """A fresh experiment prefix: tests share the server but not experiments."""
    return f"t{uuid.uuid4().hex[:8]}-"


def _client(uri: str):
    from mlflow import MlflowClient

    return MlflowClient(tracking_uri=uri)


def _only_run(uri: str, experiment: str):
    client = _client(uri)
    found = client.get_experiment_by_name(experiment)
    assert found is not None, f"experiment {experiment} missing"
    runs = client.search_runs([found.experiment_id])
    assert len(runs) == 1, [r.info.run_id for r in runs]
    return runs[0]


def _metrics_file() -> MetricsFile:
    def model(name: str, role: str, mae: float, fps: float) -> ModelRecord:
        return ModelRecord(
            model=name, role=role, n_params=1000 if role == "teacher" else 100,
            size_bytes=4000, throughput=Throughput(value=fps, unit="frames/s"),
            primary=PrimaryMetric(name="force_mae", value=mae, direction="minimize",
                                  unit="eV/Å"),
            goals=(Goal.check("force_mae_ratio", mae / 0.05, 1.25, "<="),),
            metrics={"force_mae": mae, "energy": {"mae_per_atom": mae / 10},
                     "per_element": [1.0, 2.0], "note": "text"})

    return MetricsFile(dataset="md", track="forcefield", variant="small",
                       models=(model("teacher", "teacher", 0.05, 10.0),
                               model("student", "student", 0.06, 150.0)),
                       summary={"speedup": 15.0, "goals_met": {"speedup": True}})


class TrainSettings(BaseModel):
    epochs: int = 3
    schedule: dict[str, float] = {"lr": 1e-3, "warmup_steps": 10}


def _log_training(run, artifact: Path) -> None:
    for epoch in range(3):
        run.log_epoch(epoch, {"train_loss": 1.0 / (epoch + 1), "val_f_mae": 0.1 - 0.01 * epoch,
                              "lr": 1e-3, "note": "skipped"})
    run.log_metrics({"test_f_mae": 0.07})
    run.log_metrics_file(_metrics_file())
    run.log_artifact(artifact)


def test_live_run_reads_back_from_server(server: str, prefix: str, tmp_path: Path,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DISTILLERY_RUN_ID", "wf-42")
    artifact = tmp_path / "history.csv"
    artifact.write_text("epoch,loss\n0,1.0\n")
    settings = TrackingSettings(uri=server, experiment_prefix=prefix)
    params = {"train": TrainSettings(), "model": {"kind": "painn", "features": 48},
              "long": "x" * 7000}
    with tracked_run(settings, tmp_path / "results", dataset="md", rule="ff_train",
                     wildcards={"dataset": "md", "model": "teacher"}, params=params,
                     tags={"purpose": "test"}, variant="small") as run:
        assert run.online
        _log_training(run, artifact)

    client = _client(server)
    found = _only_run(server, f"{prefix}md")
    assert found.info.run_id == run.run_id
    assert found.info.status == "FINISHED"
    assert found.info.run_name == "ff_train model=teacher"
    p = found.data.params
    assert p["train.epochs"] == "3"
    assert p["train.schedule.lr"] == "0.001"
    assert p["model.kind"] == "painn" and p["model.features"] == "48"
    assert len(p["long"]) == 6000 and p["long"].endswith("...")

    history = client.get_metric_history(run.run_id, "train_loss")
    assert [(m.step, m.value) for m in history] == [(0, 1.0), (1, 0.5), (2, pytest.approx(1 / 3))]
    assert [m.step for m in client.get_metric_history(run.run_id, "val_f_mae")] == [0, 1, 2]
    m = found.data.metrics
    assert "note" not in m
    assert m["test_f_mae"] == 0.07
    assert m["teacher.force_mae"] == 0.05 and m["student.force_mae"] == 0.06
    assert m["student.energy.mae_per_atom"] == pytest.approx(0.006)
    assert m["student.throughput"] == 150.0 and m["teacher.n_params"] == 1000
    assert m["teacher.goal.force_mae_ratio"] == 1.0 and m["student.goal.force_mae_ratio"] == 1.0
    assert m["summary.speedup"] == 15.0 and m["summary.goals_met.speedup"] == 1.0
    assert not any(k.startswith("teacher.per_element") for k in m)

    assert [a.path for a in client.list_artifacts(run.run_id)] == ["history.csv"]
    t = found.data.tags
    assert t["rule"] == "ff_train" and t["dataset"] == "md" and t["variant"] == "small"
    assert t["track"] == "forcefield" and t["purpose"] == "test"
    assert json.loads(t["wildcards"]) == {"dataset": "md", "model": "teacher"}
    assert t["wildcard.model"] == "teacher"
    assert t["snakemake_run_id"] == "wf-42"
    assert re.fullmatch(r"[0-9a-f]{40}", t["git_commit"])
    assert t["mlflow.source.git.commit"] == t["git_commit"]
    assert not (tmp_path / "results").exists()  # nothing queued, no local store


def test_failed_job_ends_run_failed_and_reraises(server: str, prefix: str,
                                                tmp_path: Path) -> None:
    settings = TrackingSettings(uri=server, experiment_prefix=prefix)
    with pytest.raises(ZeroDivisionError), tracked_run(settings, tmp_path, dataset="cg",
                                                       rule="prior_fit") as run:
        run.log_epoch(0, {"loss": 2.0})
        _ = 1 / 0
    found = _only_run(server, f"{prefix}cg")
    assert found.info.status == "FAILED"
    assert found.data.metrics["loss"] == 2.0


def test_two_runs_in_one_process_stay_apart(server: str, prefix: str, tmp_path: Path) -> None:
    settings = TrackingSettings(uri=server, experiment_prefix=prefix)
    with tracked_run(settings, tmp_path, dataset="can", rule="a") as first, \
            tracked_run(settings, tmp_path, dataset="can", rule="b") as second:
        first.log_metrics({"only_a": 1.0})
        second.log_metrics({"only_b": 2.0})
    client = _client(server)
    assert client.get_run(first.run_id).data.metrics == {"only_a": 1.0}
    assert client.get_run(second.run_id).data.metrics == {"only_b": 2.0}


def test_default_store_is_local_sqlite_under_results(tmp_path: Path) -> None:
    results = tmp_path / "results"
    artifact = tmp_path / "model.json"
    artifact.write_text("{}")
    with tracked_run({}, results, dataset="md", rule="ff_evaluate") as run:
        run.log_epoch(1, {"loss": 0.5})
        run.log_artifact(artifact, "models")
    uri = f"sqlite:///{results / 'mlflow.db'}"
    found = _only_run(uri, "md")
    assert found.info.status == "FINISHED" and found.data.metrics == {"loss": 0.5}
    assert (results / "mlruns" / "md" / run.run_id / "artifacts" / "models" /
            "model.json").read_text() == "{}"
    assert [a.path for a in _client(uri).list_artifacts(run.run_id, "models")] == [
        "models/model.json"]


def test_tracked_job_takes_settings_and_job_from_snakemake(server: str, prefix: str,
                                                          tmp_path: Path) -> None:
    job = SimpleNamespace(
        config={"results": str(tmp_path / "results"),
                "tracking": {"uri": server, "experiment_prefix": prefix}},
        rule="can_train_student", wildcards={"dataset": "can", "student": "mlp", "mode": "kd"},
        params={"train": {"epochs": 4}, "name": "mlp_kd"})
    with tracked_job(job, variant="kd") as run:
        run.log_epoch(0, {"val_f1": 0.5})
    found = _only_run(server, f"{prefix}can")
    assert found.info.run_name == "can_train_student student=mlp,mode=kd"
    assert found.data.params == {"train.epochs": "4", "name": "mlp_kd"}
    assert found.data.tags["variant"] == "kd" and found.data.tags["wildcard.mode"] == "kd"


def test_parallel_jobs_share_a_new_local_store(tmp_path: Path) -> None:
    """Jobs that start together must not trip over the store's table creation."""
    code = (
        "import sys\n"
        "from distillery.tracking import tracked_run\n"
        "with tracked_run({}, sys.argv[1], dataset='md', rule=sys.argv[2]) as run:\n"
        "    run.log_epoch(0, {'loss': 1.0})\n"
    )
    results = tmp_path / "results"
    jobs = [subprocess.Popen([sys.executable, "-c", code, str(results), f"job{i}"],
                             stderr=subprocess.PIPE, text=True) for i in range(2)]
    errors = [job.communicate(timeout=120)[1] for job in jobs]
    assert [job.returncode for job in jobs] == [0, 0]
    assert not any("WARNING" in e for e in errors), errors
    assert list_pending(results) == []
    client = _client(f"sqlite:///{results / 'mlflow.db'}")
    runs = client.search_runs([client.get_experiment_by_name("md").experiment_id])
    assert sorted(r.data.tags["rule"] for r in runs) == ["job0", "job1"]


def _closed_uri() -> str:
    return f"http://127.0.0.1:{free_port()}"  # nobody listens there


def test_unreachable_store_queues_run_and_sync_replays_it(
        server: str, prefix: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    results = tmp_path / "results"
    artifact = tmp_path / "history.csv"
    artifact.write_text("epoch\n0\n")
    down = _closed_uri()
    settings = TrackingSettings(uri=down, experiment_prefix=prefix)
    start = time.monotonic()
    with tracked_run(settings, results, dataset="md", rule="ff_train",
                     wildcards={"dataset": "md"}, params={"epochs": 3}) as run:
        assert not run.online
        _log_training(run, artifact)
    assert time.monotonic() - start < 10, "an unreachable store must fail fast"
    warnings = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert len(warnings) == 1 and warnings[0].startswith("WARNING: MLflow tracking store")
    assert down in warnings[0] and "distillery.tracking sync" in warnings[0]

    [pending] = list_pending(results)
    assert pending == run.pending_file
    record = read_pending(pending)
    assert record.status == "FINISHED" and record.uri == down
    assert [p.step for p in record.metrics if p.key == "train_loss"] == [0, 1, 2]

    # the store is still down: the file stays, the command says why and fails
    assert tracking_cli(["sync", "--results", str(results)]) == 1
    assert "ERROR:" in capsys.readouterr().err and pending.exists()

    assert tracking_cli(["sync", "--results", str(results), "--uri", server]) == 0
    assert "synced" in capsys.readouterr().out
    assert list_pending(results) == []
    found = _only_run(server, f"{prefix}md")
    assert found.info.status == "FINISHED"
    assert found.data.params == {"epochs": "3"}
    assert found.data.metrics["teacher.force_mae"] == 0.05
    assert found.data.tags["rule"] == "ff_train"
    history = _client(server).get_metric_history(found.info.run_id, "train_loss")
    assert [m.step for m in history] == [0, 1, 2]
    assert found.info.start_time == record.start_time
    assert [a.path for a in _client(server).list_artifacts(found.info.run_id)] == ["history.csv"]
    assert sync(results, server).synced == {}  # nothing left


def test_store_lost_mid_run_replays_whole_run_once(server: str, prefix: str, tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    results = tmp_path / "results"
    settings = TrackingSettings(uri=server, experiment_prefix=prefix)
    with tracked_run(settings, results, dataset="md", rule="ff_train") as run:
        run.log_epoch(0, {"loss": 1.0})
        live_id = run.run_id

        def unreachable(*args: object) -> None:
            raise ConnectionError("connection reset by peer")

        run._store.log_metrics = unreachable
        run.log_epoch(1, {"loss": 0.5})  # fails: from here on the run is queued
        run.log_epoch(2, {"loss": 0.25})
    assert len(capsys.readouterr().err.strip().splitlines()) == 1
    [pending] = list_pending(results)
    # replay twice (a sync interrupted after logging must not leave a duplicate)
    twice = pending.read_text()
    assert sync(results).failed == {}
    pending.write_text(twice)
    assert sync(results).failed == {}

    found = _only_run(server, f"{prefix}md")  # the partial live run was deleted
    assert found.info.run_id != live_id
    history = _client(server).get_metric_history(found.info.run_id, "loss")
    assert [(m.step, m.value) for m in history] == [(0, 1.0), (1, 0.5), (2, 0.25)]


def test_strict_mode_raises_one_line_and_queues_nothing(tmp_path: Path) -> None:
    down = _closed_uri()
    settings = TrackingSettings(uri=down, strict=True)
    with pytest.raises(DistilleryError) as info, tracked_run(settings, tmp_path, dataset="md",
                                                             rule="ff_train"):
        pytest.fail("the job must not start when strict tracking cannot reach its store")
    message = str(info.value)
    assert "\n" not in message and down in message and "strict" in message
    assert "Connection refused" in message  # the cause, from the end of the client's error
    assert not (tmp_path / "tracking_pending").exists()


def test_disabled_tracking_writes_nothing_and_never_imports_mlflow(tmp_path: Path) -> None:
    code = (
        "import sys\n"
        "from distillery.tracking import NullRun, tracked_run\n"
        "with tracked_run({'enabled': False}, sys.argv[1], dataset='md', rule='r') as run:\n"
        "    assert type(run) is NullRun\n"
        "    run.log_epoch(0, {'loss': 1.0}); run.log_artifact(sys.argv[1] + '/x')\n"
        "assert 'mlflow' not in sys.modules, 'mlflow imported'\n"
    )
    subprocess.run([sys.executable, "-c", code, str(tmp_path)], check=True)
    assert list(tmp_path.iterdir()) == []


def test_settings_are_frozen_and_strict() -> None:
    with pytest.raises(ValueError, match="extra"):
        TrackingSettings.model_validate({"enable": False})
    settings = TrackingSettings()
    with pytest.raises(ValueError):
        settings.enabled = False  # type: ignore[misc]
    assert settings.tracking_uri("/r") == "sqlite:////r/mlflow.db"
    assert settings.artifact_location("/r", "a/b") == "file:///r/mlruns/a_b"
    assert TrackingSettings(uri="sqlite:////s/t.db").artifact_location("/r", "md") == \
        "file:///s/mlruns/md"
    assert TrackingSettings(uri="http://h:5000").artifact_location("/r", "md") is None


def test_names_follow_mlflow_rules() -> None:
    assert clean_key("val/f1 (macro)") == "val/f1 _macro_"
    assert clean_key("/a/../b") == "a_.._b"
    assert clean_key("k" * 300) == "k" * 250
    assert param_values({"a": {"b": [1, 2], "c": None, "d": "s"}}) == {
        "a.b": "[1, 2]", "a.c": "null", "a.d": "s"}
    names = record_metrics(_metrics_file())
    assert names["student.force_mae"] == 0.06 and names["teacher.size_bytes"] == 4000.0
