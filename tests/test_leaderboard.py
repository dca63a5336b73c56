"""Leaderboard from metrics records written by the track record functions: one row per model,
ordering by each record's direction, speed-ups, goals, files and the size plot."""

from __future__ import annotations

import json
import math
import xml.etree.ElementTree as ET

import pandas as pd
import pytest

from distillery.can.record import classifier_metrics
from distillery.can.settings import CANGoalSettings
from distillery.errors import InputError
from distillery.metrics.record import read_metrics, write_metrics
from distillery.report.leaderboard import (
    COLUMNS,
    build_leaderboard,
    record_rows,
    teacher_vs_student,
    write_leaderboard,
)
from distillery.report.leaderboard_plot import plot_metric_vs_size
from tests.metrics_inputs import CLASSES, can_models, write_track_records


@pytest.fixture
def written(tmp_path):
    return write_track_records(tmp_path / "results")


@pytest.fixture
def table(written):
    # as the leaderboard rule lists its inputs: [dataset, track, path]
    return build_leaderboard([["md", "forcefield", str(written["md"])],
                              ["can", "classifier", str(written["can"])],
                              ["cg", "coarse_grained", str(written["cg"])]])


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
    assert (student["goals_passed"], student["goals_total"]) == (2, 2)
    assert student["metric.energy_mae_per_atom"] == pytest.approx(0.0024)
    assert can.loc["mlp_kd", "metric.precision.dos"] == 0.955  # nested figures dotted
    assert "metric.confusion_matrix" not in table  # lists have no single value
    assert math.isnan(can.loc["teacher", "metric.auroc_ovr.spoofing"])  # null in the file
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


def test_a_failed_goal_shows_in_the_counts(tmp_path):
    strict = CANGoalSettings(min_speedup=9.0)  # mlp_kd is 8x at batch 1
    path = tmp_path / "can.json"
    write_metrics(path, classifier_metrics("can", can_models(), strict, "mlp", "cpu", CLASSES,
                                           40))
    row = build_leaderboard([path]).set_index("model").loc["mlp_kd"]
    assert (row["goals_passed"], row["goals_total"]) == (1, 2)
    assert (row["goal.f1_gap"], row["goal.speedup"]) == (1.0, 0.0)


def test_teacher_vs_student_compares_the_best_student(table):
    comparison = teacher_vs_student(table).set_index("dataset")
    assert set(comparison.index) == {"md", "can"}  # cg has no teacher
    assert comparison.loc["can", "student"] == "gat_small_kd"
    assert comparison.loc["can", "student_over_teacher"] == pytest.approx(0.96 / 0.97)
    assert comparison.loc["md", "params_ratio"] == pytest.approx(20.0)
    assert comparison.loc["md", "speedup"] == pytest.approx(12.0)
    assert comparison.loc["md", "student_goals"] == "2/2"
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


def test_a_variant_is_a_row_of_its_own(written, tmp_path):
    document = json.loads(written["md"].read_text())
    document["variant"] = "small_student"
    path = tmp_path / "variant.json"
    path.write_text(json.dumps(document))
    table = build_leaderboard([written["md"], path])
    assert table.groupby("variant")["model"].apply(list).to_dict() == {
        "default": ["teacher", "student", "baseline"],
        "small_student": ["teacher", "student", "baseline"]}
    assert set(teacher_vs_student(table)["variant"]) == {"default", "small_student"}


def test_sources_that_do_not_fit_raise_input_error_naming_the_file(written, tmp_path):
    old = tmp_path / "old.json"
    old.write_text(json.dumps({"models": {"teacher": {"force_mae": 0.04}}}))
    with pytest.raises(InputError, match=r"old\.json: dataset: found Field required"):
        build_leaderboard([old])
    with pytest.raises(InputError, match=r"metrics\.json: track: found 'forcefield', "
                                         r"expected 'classifier'"):
        build_leaderboard([["md", "classifier", written["md"]]])
    with pytest.raises(InputError, match=r"metrics\.json: dataset: found 'md'"):
        build_leaderboard([["cg", "forcefield", written["md"]]])
    # the same dataset, variant and model twice: repeats are not averaged silently
    copy = tmp_path / "copy.json"
    copy.write_text(written["md"].read_text())
    with pytest.raises(InputError, match=r"md/forcefield/default/teacher also in .*copy\.json"):
        build_leaderboard([written["md"], copy])


def test_empty_leaderboard_keeps_its_columns():
    assert build_leaderboard([]).columns.tolist() == COLUMNS


def test_record_rows_are_one_per_model(written):
    rows = record_rows(read_metrics(written["cg"]))
    assert [(r["model"], r["throughput"], r["throughput_unit"]) for r in rows] == [
        ("full", None, ""), ("prior-only", None, ""), ("ml-only", None, "")]
