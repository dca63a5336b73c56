"""The whole workflow on the tiny config, then its report: leaderboard, benchmarks, executed
notebook, a headless-Chromium walk through report.html, and a targeted rerun."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import jsonschema
import nbformat
import numpy as np
import pandas as pd
import pytest

from distillery.db import rebuild
from distillery.db.sync import read_manifest
from distillery.io import read_json
from distillery.metrics.record import json_schema, read_metrics
from distillery.report.browser import find_chromium, walk_report
from distillery.report.leaderboard import build_leaderboard
from tests.conftest import TINY_DATASETS, copy_run, run_snakemake

pytestmark = pytest.mark.workflow

# every dataset of the default config runs on the tiny overrides
DATASETS = TINY_DATASETS
_JOB = re.compile(r"^(?:local)?rule (\w+):\n((?:    .*\n)*)", re.M)


def jobs_of(result: subprocess.CompletedProcess) -> set[tuple[str, str]]:
    """(rule, wildcards) of every job Snakemake ran or, with --dry-run, would run."""
    jobs = set()
    for match in _JOB.finditer(result.stdout + "\n" + result.stderr):
        wildcards = re.search(r"^    wildcards: (.*)$", match.group(2), re.M)
        if match.group(1) != "all":
            jobs.add((match.group(1), wildcards.group(1) if wildcards else ""))
    return jobs


def ensure_chromium() -> str:
    """Chromium for the browser check; installed from Debian packages when missing (CI)."""
    if (found := find_chromium()) is None and shutil.which("apt-get") and os.geteuid() == 0:
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        install = ["apt-get", "install", "-y", "--no-install-recommends", "chromium"]
        if subprocess.run(install, env=env, capture_output=True).returncode != 0:
            subprocess.run(["apt-get", "update"], env=env, capture_output=True, check=True)
            subprocess.run(install, env=env, capture_output=True, check=True)
        found = find_chromium()
    if found is None:
        pytest.fail("Chromium is missing and could not be installed (apt-get install chromium)")
    return found


@pytest.fixture(scope="module")
def reported(tiny_run: Path) -> Path:
    run_snakemake(tiny_run, "--report", "report.html")
    return tiny_run


def test_leaderboard_holds_every_registered_metrics_file(reported, tmp_path):
    # db_sync loaded every registered metrics.json; the leaderboard read those records
    registered = read_json(reported / "results/logs/db_sync.provenance.json")["input"]
    sources = [r.source for r in read_manifest(reported / "results/report/db_sync.json").records]
    assert sources == [str(Path(p).relative_to("results")) for p in registered]
    table = pd.read_parquet(reported / "results/report/leaderboard.parquet")
    assert len(sources) == len(DATASETS) and sorted(set(table["dataset"])) == sorted(DATASETS)
    for path in sources:
        # every model of every real metrics file is a leaderboard row with its headline value
        record = read_metrics(reported / "results" / path)
        rows = table[table["dataset"] == record.dataset].set_index("model")
        assert set(rows.index) == {m.model for m in record.models}
        for model in record.models:
            assert rows.loc[model.model, "role"] == model.role
            assert rows.loc[model.model, "primary_value"] == pytest.approx(model.primary.value)
    csv = pd.read_csv(reported / "results/report/leaderboard.csv")
    assert csv["model"].tolist() == table["model"].tolist()
    # the same table from a database the backfill rebuilds from results/, twice
    for _ in range(2):
        rebuild(reported / "results", tmp_path / "project.db")
        pd.testing.assert_frame_equal(build_leaderboard(tmp_path / "project.db", sources), table)


def test_every_metrics_file_of_the_run_is_the_one_record(reported):
    schema = json_schema()
    files = sorted((reported / "results").rglob("metrics.json"))
    assert len(files) == len(DATASETS)
    for path in files:
        jsonschema.validate(read_json(path), schema)
        record = read_metrics(path)
        assert record.dataset in DATASETS and record.models


def test_benchmarks_table_lists_every_finished_job(reported):
    table = pd.read_parquet(reported / "results/report/benchmarks.parquet")
    on_disk = {str(p.relative_to(reported))
               for p in (reported / "results").glob("**/benchmarks/*.tsv")
               if p.stem not in ("report_benchmarks", "report_notebook")}
    assert set(table["path"]) == on_disk
    jobs = set(zip(table["rule"], table["wildcards"], strict=True))
    for dataset in DATASETS:
        assert ("ingest", f"dataset={dataset}") in jobs
        assert ("report_learning_curves", f"dataset={dataset}") in jobs
    assert ("generate_can_capture", "dataset=can,capture=dos") in jobs
    assert ("report_leaderboard", "") in jobs and ("db_sync", "") in jobs
    assert (table["wall_s"] > 0).all() and table["wall_s"].is_monotonic_decreasing


def test_notebook_is_executed_with_the_run_parameters(reported):
    notebook = nbformat.read(reported / "results/report/analytics.ipynb", as_version=4)
    injected = [c for c in notebook.cells if "injected-parameters" in c.metadata.get("tags", [])]
    assert len(injected) == 1
    parameters: dict = {}
    exec(injected[0].source, parameters)
    assert parameters["datasets"] == DATASETS
    assert parameters["results_dir"] == "results"
    # its tables come from the project database: the records db_sync loaded
    assert parameters["db_path"] == "results/project.db"
    manifest = read_manifest(reported / "results/report/db_sync.json")
    assert parameters["sources"] == [r.source for r in manifest.records]
    code = [c for c in notebook.cells if c.cell_type == "code"]
    assert all(c.execution_count for c in code)
    assert not [o for c in code for o in c.outputs if o.output_type == "error"]
    # the ten longest jobs, from the benchmarks report_benchmarks loaded into the database
    [slowest] = [c for c in code if c.source.startswith("benchmarks[")]
    assert slowest.outputs[0].data["text/html"].count("<tr") == 1 + 10
    html = (reported / "results/report/analytics.html").read_text()
    # the tiny overrides differ from the shipped config: the diff section shows them
    assert "datasets.md.generate.n_frames" in html
    assert re.search(r"\d+ settings differ from \S*config/config\.yaml", html)
    for section in ("Leaderboard", "Teacher vs student", "Accuracy vs size", "Where the time went"):
        assert section in html
    assert "data:image/svg+xml" in html or "<svg" in html  # the accuracy-vs-size figure


def test_report_renders_in_headless_chromium(reported):
    chromium = ensure_chromium()
    screenshot = reported / "report.png"
    record = walk_report(reported / "report.html", screenshot=screenshot, chromium=chromium)
    assert record["error"] is None and record["title"] == "Snakemake Report"
    categories = record["categories"]
    assert {"Data", "Leaderboard", "Benchmarks", "Analytics", "Learning curves"} <= set(categories)
    assert sorted(categories["Learning curves"]) == sorted(DATASETS)
    for dataset in DATASETS:
        [row] = categories["Learning curves"][dataset]
        assert row["labels"][0] == dataset
        assert row["view"]["tag"] == "img" and row["view"]["mime"] == "image/svg+xml"
        assert row["view"]["width"] > 100
    leaderboard = {row["labels"][0]: row for row in categories["Leaderboard"]["Other"]}
    assert leaderboard["accuracy vs size"]["view"]["tag"] == "img"
    assert leaderboard["table"]["view"] == {"tag": "iframe", "mime": "text/html",
                                            "width": leaderboard["table"]["view"]["width"],
                                            "text": ""}
    assert leaderboard["table (CSV)"]["download"] == "leaderboard.csv"
    for category in ("Benchmarks", "Analytics"):
        [row] = categories[category]["Other"]
        assert row["view"]["tag"] == "iframe" and row["view"]["mime"] == "text/html"
    assert screenshot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert screenshot.stat().st_size > 10_000


def test_rerunning_one_target_rebuilds_only_what_depends_on_it(reported, tmp_path):
    # a private copy: the shared run stays intact
    work = copy_run(reported, tmp_path / "copy")
    others = {d: (work / f"results/{d}/data/frames.parquet").stat().st_mtime_ns
              for d in ("cg", "can")}
    # md's raw data changed (content, not only mtime: Snakemake compares checksums)
    raw = work / "data/raw/md.npz"
    arrays = dict(np.load(raw))
    arrays["E"] = arrays["E"] + 1e-3
    np.savez(raw, **arrays)

    result = run_snakemake(work, "results/md/data/splits.json")
    assert jobs_of(result) == {("ingest", "dataset=md"), ("split", "dataset=md")}
    assert {d: (work / f"results/{d}/data/frames.parquet").stat().st_mtime_ns
            for d in ("cg", "can")} == others

    # what the default target would now rebuild: md's downstream and the run-wide collectors
    pending = jobs_of(run_snakemake(work, "--dry-run"))
    rules = {rule for rule, _ in pending}
    assert {"data_summary", "report_learning_curves", "db_sync", "report_leaderboard",
            "report_benchmarks", "report_notebook"} <= rules
    assert not {"ingest", "split", "generate_frames", "generate_can_capture",
                "report_run_config"} & rules
    assert not [job for job in pending if re.search(r"dataset=(cg|can)\b", job[1])]
