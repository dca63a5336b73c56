"""The ingest part of the DAG through Snakemake on the tiny config, good and bad input."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import yaml

from distillery.data.can import read_can_frames
from distillery.data.frames import read_frames
from distillery.data.splits import read_splits
from distillery.tracks import TRACKS
from tests.conftest import TINY_CONFIG, TINY_DATASETS, run_snakemake

pytestmark = pytest.mark.workflow


@pytest.fixture(scope="module")
def ingested(tiny_run):
    return tiny_run


def test_ingest_writes_validated_parquet_and_splits(ingested):
    md = read_frames(ingested / "results/md/data/frames.parquet")
    raw = np.load(ingested / "data/raw/md.npz")
    assert len(md) == 24
    np.testing.assert_array_equal(md.stacked_positions(), raw["R"])
    np.testing.assert_array_equal(md.energy, raw["E"])
    cg = read_frames(ingested / "results/cg/data/frames.parquet")
    np.testing.assert_allclose(cg.energy, np.load(ingested / "data/raw/cg.npz")["E"] * 0.0433641,
                               rtol=1e-6)
    truth = json.loads((ingested / "data/raw/cg_truth.json").read_text())
    assert truth["bond"]["r0"] == pytest.approx(3.8)
    can = read_can_frames(ingested / "results/can/data/frames.parquet")
    captures = yaml.safe_load(TINY_CONFIG.read_text())["datasets"]["can"]["generate"]["captures"]
    assert set(can["label"].astype(str)) == {"normal", *captures}
    splits = read_splits(ingested / "results/can/data/splits.json")
    assert sum(len(v) for v in splits.values()) == len(can)
    summary = pd.read_csv(ingested / "results/data_summary.csv")
    assert summary["dataset"].tolist() == TINY_DATASETS
    for name in TINY_DATASETS:
        assert (ingested / f"results/{name}/benchmarks/ingest.tsv").exists()
        assert "done in" in (ingested / f"results/{name}/logs/ingest.log").read_text()
        provenance = json.loads(
            (ingested / f"results/{name}/logs/ingest.provenance.json").read_text())
        assert provenance["params"]["data"]["track"] in TRACKS
        assert provenance["versions"]["numpy"] == np.__version__


def test_report_is_built(ingested):
    run_snakemake(ingested, "results/data_summary.csv", "--report", "report.html")
    html = (ingested / "report.html").read_text()
    assert "data_summary.csv" in html


def test_bad_raw_file_stops_ingest_with_one_line_and_no_output(tmp_path):
    bad = tmp_path / "bad.npz"
    np.savez(bad, R=np.zeros((3, 2, 3)), z=np.array([1, 1]), F=np.zeros((3, 2, 2)))
    config = tmp_path / "bad.yaml"
    config.write_text(yaml.safe_dump({"datasets": {"md": {
        "track": "forcefield", "format": "npz", "raw": str(bad), "temperature": 300}}}))
    result = run_snakemake(tmp_path, "results/md/data/frames.parquet", configfiles=(config,),
                           check=False)
    assert result.returncode != 0
    log = (tmp_path / "results/md/logs/ingest.log").read_text().strip().splitlines()
    assert log[-1].startswith("ERROR: ") and "bad.npz: F: found shape (3, 2, 2)" in log[-1]
    data_dir = tmp_path / "results/md/data"
    assert not data_dir.exists() or list(data_dir.iterdir()) == []
