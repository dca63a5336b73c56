"""Leaderboard by SQL from the project database, filled by the real backfill (and by db_sync)
from metrics records written by the track record functions: one row per model with the
records' numbers, ordering by each record's direction, speed-ups, goals, files and the size
plot."""

from __future__ import annotations

import json
import math
import sqlite3
import xml.etree.ElementTree as ET
from pathlib import Path

import pandas as pd
import pytest

from distillery.can.record import classifier_metrics
from distillery.can.settings import CANGoalSettings
from distillery.db import rebuild
from distillery.db.sync import read_manifest, sync_metrics, write_manifest
from distillery.errors import DistilleryError, InputError
from distillery.metrics.record import read_metrics, write_metrics
from distillery.report.leaderboard import (
    COLUMNS,
    build_leaderboard,
    teacher_vs_student,
    write_leaderboard,
)
from distillery.report.leaderboard_plot import plot_metric_vs_size
from distillery.tracking.flatten import numeric_leaves
from tests.metrics_inputs import CAN_LINEUP, CLASSES, can_models, write_track_records

# the records as the database names them: relative to results/
SOURCES = ["md/forcefield/metrics.json", "can/classifier/metrics.json", "cg/priors/metrics.json"]


@pytest.fixture
def results(tmp_path: Path) -> Path:
    write_track_records(tmp_path / "results")
    return tmp_path / "results"


@pytest.fixture
def db(results: Path) -> Path:
    rebuild(results)
    return results / "project.db"


@pytest.fixture
def table(db: Path) -> pd.DataFrame:
    return build_leaderboard(db, SOURCES)


def test_every_model_of_every_record_is_a_row_with_the_records_numbers(table, results):
    assert len(table) == 10
    rows = table.set_index(["dataset", "model"])
    for source in SOURCES:
        record = read_metrics(results / source)
        for m in record.models:
            row = rows.loc[(record.dataset, m.model)]
            assert (row["track"], row["variant"], row["role"], row["device"]) == (
                record.track, record.variant, m.role, m.device)
            assert (row["primary_metric"], row["direction"], row["primary_unit"]) == (
                m.primary.name, m.primary.direction, m.primary.unit)
            assert row["primary_value"] == pytest.approx(m.primary.value)
            assert (row["goals_passed"], row["goals_total"]) == (
                sum(g.passed for g in m.goals), len(m.goals))
            for goal in m.goals:
                assert row[f"goal.{goal.name}"] == float(goal.passed)
            for name, value in numeric_leaves(m.metrics).items():
                if value is None:
                    assert math.isnan(row[f"metric.{name}"]), name
                else:
                    assert row[f"metric.{name}"] == pytest.approx(value), name
            assert row[f"metric.{m.primary.name}"] == pytest.approx(m.primary.value)
            assert row["n_seeds"] == 0 and math.isnan(row["primary_std"])


def test_each_track_record_lands_with_its_roles_and_primary_values(table):
    rows = table.set_index(["dataset", "model"])
    md, can, cg = (rows.loc[d] for d in ("md", "can", "cg"))
    assert md["role"].to_dict() == {"teacher": "teacher", "student": "student",
                                    "baseline": "baseline"}
    assert md["primary_value"].to_dict() == {"teacher": 0.040, "student": 0.048,
                                             "baseline": 0.090}
    assert set(md["primary_metric"]) == {"force_mae"} and set(md["direction"]) == {"minimize"}
    assert can["role"].to_dict() == {"teacher": "teacher", "gat_small_kd": "student",
                                     "mlp_kd": "student", "mlp_scratch": "baseline"}
    assert can.loc["mlp_kd", "primary_value"] == 0.955
    assert set(can["primary_metric"]) == {"macro_f1"} and set(can["direction"]) == {"maximize"}
    assert cg["role"].to_dict() == {"full": "full", "prior-only": "prior",
                                    "ml-only": "ablation"}
    assert cg["primary_value"].to_dict() == {"full": 0.10, "prior-only": 0.30, "ml-only": 2.0}
    student = md.loc["student"]
    assert (student["n_params"], student["size_bytes"], student["device"]) == (
        10_000, 40_512, "cpu")
    assert (student["throughput"], student["throughput_unit"]) == (600.0, "frames/s")
    # speed-up, force-MAE ratio over the teacher's and over the baseline's
    assert (student["goals_passed"], student["goals_total"]) == (3, 3)
    assert student["metric.energy_mae_per_atom"] == pytest.approx(0.0024)
    assert can.loc["mlp_kd", "metric.precision.dos"] == 0.955  # nested figures dotted
    assert "metric.confusion_matrix" not in table  # lists have no single value
    # fixed columns are not repeated as metrics
    assert not {"metric.n_params", "metric.size_bytes", "metric.throughput"} & set(table)
    assert math.isnan(can.loc["teacher", "metric.auroc_ovr.spoofing"])  # null in the file
    assert cg.loc["full", "throughput_unit"] == ""  # no throughput measured
    assert table["variant"].eq("default").all()


def test_sorted_best_first_per_direction_with_speedups_and_goals(table):
    md = table[table["dataset"] == "md"]
    assert md["model"].tolist() == ["teacher", "student", "baseline"]  # lower MAE first
    can = table[table["dataset"] == "can"]
    assert can["model"].tolist() == ["teacher", "gat_small_kd", "mlp_kd", "mlp_scratch"]
    speedup = dict(zip(md["model"], md["throughput_vs_teacher"], strict=True))
    assert speedup == pytest.approx({"teacher": 1.0, "student": 12.0, "baseline": 12.2})
    # classifier: batched throughput (windows/s) over the teacher's
    assert can.set_index("model").loc["mlp_kd", "throughput_vs_teacher"] == pytest.approx(10.0)
    cg = table[table["dataset"] == "cg"].set_index("model")
    assert math.isnan(cg.loc["full", "throughput_vs_teacher"])  # no teacher, no throughput
    assert table.columns.tolist()[:len(COLUMNS)] == COLUMNS
    goals = table.set_index(["dataset", "model"])[
        ["goal.speedup", "goal.force_mae_ratio", "goal.macro_f1", "goal.f1_gap"]]
    assert goals.loc[("md", "student")].iloc[:2].tolist() == [1.0, 1.0]
    assert goals.loc[("md", "student")].iloc[2:].isna().all()  # not goals of this track
    assert goals.loc[("can", "teacher"), "goal.macro_f1"] == 1.0
    assert goals.loc[("cg", "full")].isna().all()


def test_rebuilding_twice_gives_the_same_leaderboard_as_db_sync(results, db, table, tmp_path):
    rebuild(results)
    pd.testing.assert_frame_equal(build_leaderboard(db, SOURCES), table)
    # db_sync's load into another database, twice, gives the same table again
    synced = tmp_path / "synced.db"
    for _ in range(2):
        manifest = sync_metrics(synced, results, [results / s for s in SOURCES])
    assert [r.source for r in manifest.records] == SOURCES
    assert [r.models for r in manifest.records] == [3, 4, 3]
    pd.testing.assert_frame_equal(build_leaderboard(synced, SOURCES), table)
    write_manifest(tmp_path / "db_sync.json", manifest)
    assert read_manifest(tmp_path / "db_sync.json") == manifest


def test_only_the_listed_records_and_a_missing_one_is_an_error(results, db):
    assert set(build_leaderboard(db, SOURCES[:1])["dataset"]) == {"md"}
    assert set(build_leaderboard(db)["dataset"]) == {"md", "can", "cg"}  # every record
    assert build_leaderboard(db, []).columns.tolist() == COLUMNS
    with pytest.raises(InputError, match=r"project\.db: models\.source: found no rows of "
                                         r"\['gone/forcefield/metrics\.json'\]"):
        build_leaderboard(db, [*SOURCES, "gone/forcefield/metrics.json"])


def test_a_failed_goal_shows_in_the_counts(tmp_path):
    strict = CANGoalSettings(min_speedup=9.0)  # mlp_kd is 8x at batch 1
    path = tmp_path / "can.json"
    write_metrics(path, classifier_metrics("can", can_models(), strict, CAN_LINEUP, "cpu", CLASSES,
                                           40))
    sync_metrics(tmp_path / "p.db", tmp_path, [path])
    row = build_leaderboard(tmp_path / "p.db", ["can.json"]).set_index("model").loc["mlp_kd"]
    assert (row["goals_passed"], row["goals_total"]) == (1, 2)
    assert (row["goal.f1_gap"], row["goal.speedup"]) == (1.0, 0.0)


def test_teacher_vs_student_compares_the_best_student(table):
    comparison = teacher_vs_student(table).set_index("dataset")
    assert set(comparison.index) == {"md", "can"}  # cg has no teacher
    assert comparison.loc["can", "student"] == "gat_small_kd"
    assert comparison.loc["can", "student_over_teacher"] == pytest.approx(0.96 / 0.97)
    assert comparison.loc["md", "params_ratio"] == pytest.approx(20.0)
    assert comparison.loc["md", "speedup"] == pytest.approx(12.0)
    assert comparison.loc["md", "student_goals"] == "3/3"
    assert comparison.loc["can", "student_goals"] == "0/0"  # gat_small is not the primary


def test_written_files_round_trip(table, tmp_path):
    out = tmp_path / "out"
    write_leaderboard(table, out / "l.parquet", out / "l.csv", out / "l.html")
    pd.testing.assert_frame_equal(pd.read_parquet(out / "l.parquet"), table)
    csv = pd.read_csv(out / "l.csv")
    assert csv["model"].tolist() == table["model"].tolist()
    html = (out / "l.html").read_text()
    assert html.count("<tr") == len(table) + 1 and "gat_small_kd" in html
    assert sorted(p.name for p in out.iterdir()) == ["l.csv", "l.html", "l.parquet"]


def test_metric_vs_size_plot_has_one_panel_per_dataset(table, tmp_path):
    path = tmp_path / "size.svg"
    plot_metric_vs_size(table, path)
    ET.parse(path)  # well-formed SVG
    svg = path.read_text()  # matplotlib draws text as glyphs, each string kept as a comment
    for title in ("md", "can", "cg", "force_mae [eV/Å] (lower is better)",
                  "macro_f1 (higher is better)", "gat_small_kd", "prior-only"):
        assert f"<!-- {title} -->" in svg


def test_a_detector_beside_the_classifiers_ranks_and_plots_apart(tmp_path):
    # the CAN payload model's headline is its lowest AUROC, not the classifiers' macro F1
    attacks = {"dos": {"n": 4, "detection_rate": {"0.01": 1.0}, "auroc": 0.99, "auprc": 0.9}}
    ids = {"payload": {"thresholds": {"0.01": 1.0}, "fpr": {"0.01": 0.0}, "attacks": attacks,
                       "latency": {}}}
    path = tmp_path / "can.json"
    write_metrics(path, classifier_metrics(
        "can", can_models(), CANGoalSettings(), CAN_LINEUP, "cpu", CLASSES, 40, ids=ids,
        payload={"params": 500, "size_bytes": 2_000, "windows_per_s": 100.0}))
    sync_metrics(tmp_path / "p.db", tmp_path, [path])
    table = build_leaderboard(tmp_path / "p.db", ["can.json"])
    assert table["model"].tolist() == ["teacher", "gat_small_kd", "mlp_kd", "mlp_scratch",
                                       "payload"]
    assert table.iloc[-1][["primary_metric", "primary_value"]].tolist() == ["min_auroc", 0.99]
    plot_metric_vs_size(table, tmp_path / "size.svg")
    svg = (tmp_path / "size.svg").read_text()
    assert "<!-- macro_f1 (higher is better) -->" in svg and "<!-- payload -->" not in svg


def test_a_variant_is_a_row_of_its_own(results):
    document = json.loads((results / SOURCES[0]).read_text())
    document["variant"] = "small_student"
    path = results / "md--small_student" / "forcefield" / "metrics.json"
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps(document))
    rebuild(results)
    table = build_leaderboard(results / "project.db",
                              [SOURCES[0], "md--small_student/forcefield/metrics.json"])
    assert table.groupby("variant")["model"].apply(list).to_dict() == {
        "default": ["teacher", "student", "baseline"],
        "small_student": ["teacher", "student", "baseline"]}
    assert set(teacher_vs_student(table)["variant"]) == {"default", "small_student"}


def test_records_that_do_not_fit_raise_input_error_naming_the_file(results, tmp_path):
    old = results / "old" / "metrics.json"
    old.parent.mkdir()
    old.write_text(json.dumps({"models": {"teacher": {"force_mae": 0.04}}}))
    with pytest.raises(InputError, match=r"old/metrics\.json: dataset: found Field required"):
        sync_metrics(tmp_path / "p.db", results, [results / SOURCES[0], old])
    # the same dataset and variant twice would replace each other's rows in the database
    copy = results / "copy" / "metrics.json"
    copy.parent.mkdir()
    copy.write_text((results / SOURCES[0]).read_text())
    with pytest.raises(InputError, match=r"copy/metrics\.json: dataset/variant: found "
                                         r"md/default also in .*md/forcefield/metrics\.json"):
        sync_metrics(tmp_path / "p.db", results, [results / SOURCES[0], copy])
    assert not (tmp_path / "p.db").exists()  # checked before anything is written


def test_db_sync_fails_rather_than_leave_a_partial_database(results, db):
    holder = sqlite3.connect(db, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        with pytest.raises(DistilleryError, match=r"project\.db not updated: .*locked"):
            sync_metrics(db, results, [results / s for s in SOURCES], timeout=0.2)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
