"""The export and MD-stability rules of the shared tiny run (MD with the student only): the
exported program passes its check, and the MD figures and tables are written."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from distillery.io import read_json

pytestmark = pytest.mark.workflow


def test_export_and_md_stability_rules(tiny_run):
    check = read_json(tiny_run / "results/md/export/student/check.json")
    assert check["passed"] and check["n_frames"] == 2
    assert check["max_abs_force"] > 1e-3
    md = tiny_run / "results/md/md"
    for name in ("nve_energy", "langevin_temperature", "rdf"):
        assert (md / f"figures/{name}.png").stat().st_size > 5000
    table = pd.read_csv(md / "md_stability.csv")
    assert sorted(table["ensemble"]) == ["langevin", "nve"]
    assert np.isfinite(table["rdf_l1_vs_reference_A"]).all()
    summary = read_json(md / "md_stability.json")
    assert set(summary["models"]) == {"student"}
    assert summary["models"]["student"]["engine"] == "jax"  # an export runs in the JAX engine
    assert set(table["engine"]) == {"jax"}
    assert summary["settings"]["steps"] == 30
    rdf = np.asarray(summary["rdf"]["reference"])
    assert rdf.max() > 2.0  # the fcc alloy's first shell
