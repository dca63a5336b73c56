"""Leaderboard: per-track adapters on metrics.json layouts, ordering, speed-ups, files."""

from __future__ import annotations

import json
import math
import xml.etree.ElementTree as ET

import pandas as pd
import pytest

from distillery.errors import InputError
from distillery.report.leaderboard import (
    COLUMNS,
    build_leaderboard,
    rows_for,
    teacher_vs_student,
    write_leaderboard,
)
from distillery.report.leaderboard_plot import plot_metric_vs_size

FORCEFIELD = {
    "device": "cpu",
    "models": {
        "teacher": {"test": {"force_mae": 0.040, "energy_mae_per_atom": 0.002},
                    "n_parameters": 200_000, "speed": {"frames_per_s": 50.0}},
        "student": {"test": {"force_mae": 0.048, "energy_mae_per_atom": 0.003},
                    "n_parameters": 10_000, "speed": {"frames_per_s": 600.0}},
        "baseline": {"test": {"force_mae": 0.090, "energy_mae_per_atom": 0.006},
                     "n_parameters": 10_000, "speed": {"frames_per_s": 610.0}},
    },
    "speedup": 12.0,
}
# classifier entries at the top level, latency instead of throughput, a confusion matrix list
CLASSIFIER = {
    "teacher": {"macro_f1": 0.97, "accuracy": 0.98, "params": 50_000, "latency_ms": 4.0,
                "device": "cuda:0", "confusion_matrix": [[5, 0], [1, 4]]},
    "student_gat": {"macro_f1": 0.96, "accuracy": 0.97, "params": 5_000, "latency_ms": 0.5},
    "student_mlp": {"macro_f1": 0.93, "accuracy": 0.95, "params": 2_000, "latency_ms": 0.2},
    "student_no_kd": {"macro_f1": 0.90, "accuracy": 0.93, "params": 5_000, "latency_ms": 0.5},
}
PRIORS = {"device": {"framework": "jax", "platform": "cpu", "device": "cpu"}, "modes": {
    "full": {"force_mae": 0.10},
    "prior-only": {"force_mae": 0.30},
    "ml-only": {"force_mae": 0.20},
}}


def _write(tmp_path, name, metrics):
    path = tmp_path / f"{name}.json"
    path.write_text(json.dumps(metrics))
    return path


@pytest.fixture
def table(tmp_path):
    return build_leaderboard([
        ("md", "forcefield", _write(tmp_path, "md", FORCEFIELD)),
        ("can", "classifier", _write(tmp_path, "can", CLASSIFIER)),
        ("cg", "coarse_grained", _write(tmp_path, "cg", PRIORS)),
    ])


def test_forcefield_rows_pick_size_speed_and_headline_metric():
    rows = {r["model"]: r for r in rows_for("md", "forcefield", FORCEFIELD)}
    assert {m: r["role"] for m, r in rows.items()} == {
        "teacher": "teacher", "student": "student", "baseline": "baseline"}
    student = rows["student"]
    assert student["params"] == 10_000
    assert student["throughput"] == 600.0 and student["throughput_unit"] == "frames/s"
    assert student["primary_metric"] == "test.force_mae"
    assert student["primary_value"] == 0.048
    assert student["device"] == "cpu"  # the file-level device applies to every model
    described = rows_for("cg", "coarse_grained", PRIORS)
    assert {r["device"] for r in described} == {"cpu"}  # the name out of a device record
    assert student["metric.test.energy_mae_per_atom"] == 0.003


def test_classifier_roles_from_names_and_throughput_from_latency():
    rows = {r["model"]: r for r in rows_for("can", "classifier", CLASSIFIER)}
    assert rows["student_no_kd"]["role"] == "baseline"
    assert rows["student_mlp"]["role"] == "student"
    assert rows["teacher"]["throughput"] == pytest.approx(250.0)  # 1000 ms / 4 ms
    assert rows["teacher"]["device"] == "cuda:0"
    assert "metric.confusion_matrix" not in rows["teacher"]


def test_leaderboard_sorts_best_first_per_direction_and_computes_speedups(table):
    md = table[table["dataset"] == "md"]
    assert md["model"].tolist() == ["teacher", "student", "baseline"]  # lower MAE first
    can = table[table["dataset"] == "can"]
    assert can["model"].tolist() == ["teacher", "student_gat", "student_mlp", "student_no_kd"]
    speedup = dict(zip(md["model"], md["speedup_vs_teacher"], strict=True))
    assert speedup == pytest.approx({"teacher": 1.0, "student": 12.0, "baseline": 12.2})
    cg = table[table["dataset"] == "cg"].set_index("model")
    assert cg.loc["prior-only", "role"] == "baseline" and cg.loc["full", "role"] == "model"
    assert math.isnan(cg.loc["full", "speedup_vs_teacher"])  # no teacher in this track
    assert table.columns.tolist()[:len(COLUMNS)] == COLUMNS


def test_teacher_vs_student_compares_the_best_student(table):
    comparison = teacher_vs_student(table).set_index("dataset")
    assert set(comparison.index) == {"md", "can"}
    assert comparison.loc["can", "student"] == "student_gat"
    assert comparison.loc["can", "student_over_teacher"] == pytest.approx(0.96 / 0.97)
    assert comparison.loc["md", "params_ratio"] == pytest.approx(20.0)
    assert comparison.loc["md", "speedup"] == pytest.approx(12.0)


def test_written_files_round_trip(table, tmp_path):
    out = tmp_path / "out"
    write_leaderboard(table, out / "l.parquet", out / "l.csv", out / "l.html")
    pd.testing.assert_frame_equal(pd.read_parquet(out / "l.parquet"), table)
    csv = pd.read_csv(out / "l.csv")
    assert csv["model"].tolist() == table["model"].tolist()
    html = (out / "l.html").read_text()
    assert html.count("<tr") == len(table) + 1 and "student_gat" in html
    assert sorted(p.name for p in out.iterdir()) == ["l.csv", "l.html", "l.parquet"]


def test_metric_vs_size_plot_has_one_panel_per_dataset(table, tmp_path):
    path = tmp_path / "size.svg"
    plot_metric_vs_size(table, path)
    ET.parse(path)  # well-formed SVG
    svg = path.read_text()  # matplotlib draws text as glyphs, each string kept as a comment
    for title in ("md", "can", "cg", "test.force_mae (lower is better)",
                  "macro_f1 (higher is better)", "student_gat"):
        assert f"<!-- {title} -->" in svg


def test_unreadable_layouts_raise_input_error_naming_the_file(tmp_path):
    with pytest.raises(InputError, match=r"weird\.json: models: found top-level keys"):
        build_leaderboard([("md", "forcefield", _write(tmp_path, "weird", {"mae": 0.1}))])
    with pytest.raises(InputError, match="track"):
        rows_for("md", "astrology", FORCEFIELD)
    with pytest.raises(InputError, match="a JSON object"):
        build_leaderboard([("md", "forcefield", _write(tmp_path, "list", [1, 2]))])


def test_empty_leaderboard_keeps_its_columns():
    assert build_leaderboard([]).columns.tolist() == COLUMNS
