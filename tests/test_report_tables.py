"""Benchmark TSV collection, learning-curve discovery and plots, configuration diffs."""

from __future__ import annotations

import pandas as pd
import pytest

from distillery.errors import InputError
from distillery.report.benchmarks_table import (
    benchmarks_table,
    find_benchmarks,
    identify,
    pattern_regex,
    read_benchmark,
    write_benchmarks,
)
from distillery.report.config_diff import config_diff
from distillery.report.learning_curves import (
    curve_columns,
    find_epoch_tables,
    plot_learning_curves,
)

# benchmark patterns as Snakemake stores them: global wildcard constraints inlined
PATTERNS = {
    "ingest": "results/{dataset,md|cg|can}/benchmarks/ingest.tsv",
    "generate_can_capture":
        "results/{dataset,md|cg|can}/benchmarks/generate_can_capture_{capture,[A-Za-z0-9_-]+}.tsv",
    "generate": "results/{dataset,md|cg|can}/benchmarks/generate_{kind}.tsv",
    "leaderboard": "results/benchmarks/leaderboard.tsv",
    "window": "results/{dataset}/benchmarks/w{size,\\d{2}}.tsv",
}
HEADER = "s\th:m:s\tmax_rss\tmax_vms\tmax_uss\tmax_pss\tio_in\tio_out\tmean_load\tcpu_time\n"


def _benchmark(path, *rows):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(HEADER + "".join("\t".join(map(str, r)) + "\n" for r in rows))
    return path


def test_benchmark_paths_map_back_to_rule_and_wildcards():
    assert identify("results/md/benchmarks/ingest.tsv", PATTERNS) == ("ingest", "dataset=md")
    # the capture pattern is more literal than generate_{kind}: it wins
    assert identify("results/can/benchmarks/generate_can_capture_dos.tsv", PATTERNS) == (
        "generate_can_capture", "dataset=can,capture=dos")
    assert identify("results/cg/benchmarks/generate_frames.tsv", PATTERNS) == (
        "generate", "dataset=cg,kind=frames")
    assert identify("results/benchmarks/leaderboard.tsv", PATTERNS) == ("leaderboard", "")
    assert identify("results/x/benchmarks/w12.tsv", PATTERNS) == ("window", "dataset=x,size=12")
    # constraints hold: an unknown dataset matches no pattern and falls back to the file stem
    assert identify("results/zz/benchmarks/ingest.tsv", PATTERNS) == ("ingest", "")
    assert pattern_regex("a/{x}/{x}.tsv").match("a/1/2.tsv") is None


def test_read_benchmark_averages_repeats_and_reads_missing_values(tmp_path):
    path = _benchmark(tmp_path / "b.tsv",
                      (2.0, "0:00:02", 100.0, 200, 90, 95, 1.0, 2.0, 50.0, 1.0),
                      (4.0, "0:00:04", 300.0, 400, 90, 95, 3.0, 4.0, "-", 3.0))
    row = read_benchmark(path)
    assert row == pytest.approx({"runs": 2.0, "wall_s": 3.0, "max_rss_mb": 200.0,
                                 "max_vms_mb": 300.0, "io_in_mb": 2.0, "io_out_mb": 3.0,
                                 "mean_load": 50.0, "cpu_time_s": 2.0})


def test_bad_benchmark_files_raise_input_error(tmp_path):
    empty = tmp_path / "empty.tsv"
    empty.write_text("")
    with pytest.raises(InputError, match="empty.tsv"):
        read_benchmark(empty)
    wrong = tmp_path / "wrong.tsv"
    wrong.write_text("a\tb\n1\t2\n")
    with pytest.raises(InputError, match=r"wrong\.tsv: columns: found \['a', 'b'\]"):
        read_benchmark(wrong)


def test_benchmarks_table_collects_every_rule_slowest_first(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    _benchmark(tmp_path / "results/md/benchmarks/ingest.tsv",
               (1.5, "0:00:01", 10, 20, 1, 1, 0, 0, 90, 1.4))
    _benchmark(tmp_path / "results/can/benchmarks/generate_can_capture_dos.tsv",
               (7.0, "0:00:07", 30, 40, 1, 1, 0, 0, 99, 6.9))
    _benchmark(tmp_path / "results/benchmarks/leaderboard.tsv",
               (0.5, "0:00:00", 5, 6, 1, 1, 0, 0, 10, 0.1))
    _benchmark(tmp_path / "results/benchmarks/benchmarks_table.tsv",
               (0.1, "0:00:00", 5, 6, 1, 1, 0, 0, 10, 0.1))
    paths = find_benchmarks("results", exclude_rules=["benchmarks_table"])
    assert len(paths) == 3
    table = benchmarks_table(paths, PATTERNS)
    assert table["rule"].tolist() == ["generate_can_capture", "ingest", "leaderboard"]
    assert table["wildcards"].tolist() == ["dataset=can,capture=dos", "dataset=md", ""]
    assert table["wall_s"].tolist() == [7.0, 1.5, 0.5]
    write_benchmarks(table, "out/b.parquet", "out/b.html")
    pd.testing.assert_frame_equal(pd.read_parquet("out/b.parquet"), table)
    html = (tmp_path / "out/b.html").read_text()
    assert "generate_can_capture" in html and "results/md/benchmarks" not in html


def test_curve_columns_pair_train_and_val_by_quantity():
    columns = ["epoch", "lr", "train_loss", "val_loss", "train_f_mae", "val_f_mae",
               "accuracy_train", "accuracy_val", "best"]
    assert curve_columns(columns) == {
        "loss": {"train": "train_loss", "val": "val_loss"},
        "f_mae": {"train": "train_f_mae", "val": "val_f_mae"},
        "accuracy": {"train": "accuracy_train", "val": "accuracy_val"},
    }


def test_find_epoch_tables_keeps_only_per_epoch_tables(tmp_path):
    history = pd.DataFrame({"epoch": [1, 2, 3], "train_loss": [1.0, 0.5, 0.2],
                            "val_loss": [1.1, 0.7, 0.4]})
    (tmp_path / "forcefield/teacher").mkdir(parents=True)
    history.to_csv(tmp_path / "forcefield/teacher/history.csv", index=False)
    history.to_parquet(tmp_path / "forcefield/teacher/history.parquet")
    (tmp_path / "data").mkdir()
    history.to_csv(tmp_path / "data/frames.csv", index=False)  # data/ is never searched
    pd.DataFrame({"epoch": [1], "lr": [0.1]}).to_csv(tmp_path / "lr.csv", index=False)
    pd.DataFrame({"x": [1]}).to_csv(tmp_path / "other.csv", index=False)
    (tmp_path / "broken.parquet").write_bytes(b"not parquet")
    tables = find_epoch_tables(tmp_path)
    assert sorted(tables) == ["forcefield/teacher/history.csv",
                              "forcefield/teacher/history.parquet"]
    pd.testing.assert_frame_equal(tables["forcefield/teacher/history.csv"], history)
    figure = tmp_path / "curves.svg"
    plot_learning_curves(tables, figure, title="md")
    svg = figure.read_text()
    # one row per table, a "loss" panel in each with a train and a val curve
    assert "<!-- forcefield/teacher/history.csv -->" in svg
    assert "<!-- forcefield/teacher/history.parquet -->" in svg
    for text in ("loss", "train", "val"):
        assert svg.count(f"<!-- {text} -->") == 2


def test_no_tables_still_gives_a_figure_that_says_so(tmp_path):
    plot_learning_curves({}, tmp_path / "none.svg", title="cg")
    assert "<!-- no per-epoch tables found -->" in (tmp_path / "none.svg").read_text()


def test_config_diff_lists_changed_added_and_removed_leaves():
    before = {"seed": 0, "datasets": {"md": {"generate": {"n_frames": 300}, "track": "ff"}},
              "report": {"kernel": "distillery"}}
    after = {"seed": 0, "datasets": {"md": {"generate": {"n_frames": 24}, "track": "ff"},
                                     "cg": {"track": "cg"}}}
    diff = config_diff(before, after)
    assert diff.to_dict("records") == [
        {"key": "datasets.cg.track", "before": "(absent)", "after": "'cg'"},
        {"key": "datasets.md.generate.n_frames", "before": "300", "after": "24"},
        {"key": "report.kernel", "before": "'distillery'", "after": "(absent)"},
    ]
    assert config_diff(after, after).empty
