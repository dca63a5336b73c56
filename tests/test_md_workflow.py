"""The export and MD-stability rules on the tiny config (MD with the student only), with a
small untrained force field saved where the training rules put theirs: the exported program
passes its check, and the MD figures and tables are written."""

from __future__ import annotations

import numpy as np
import pandas as pd

from distillery.io import read_json
from distillery.models.model import ForceField, save_model
from tests.conftest import run_snakemake

MODEL = {"kind": "schnet", "features": 4, "n_layers": 1, "n_rbf": 4, "cutoff": 3.2, "max_z": 80}


def test_export_and_md_stability_rules(tmp_path):
    run_snakemake(tmp_path, "results/md/data/splits.json")
    model = ForceField(MODEL)
    shift = np.zeros(81)
    shift[[29, 79]] = [-3.5, -3.8]
    # untrained weights give small forces (~0.01 eV/Å at this scale): gentle enough for MD
    save_model(tmp_path / "results/md/forcefield/student", model,
               {"net": model.init(1), "stats": {"shift": shift, "scale": np.asarray(5.0)}})
    md = "results/md/md"
    # the model above stands in for the training rules, which are not run here
    run_snakemake(tmp_path, f"{md}/md_stability.json", "--allowed-rules", "ff_export", "ff_md_run",
                  "ff_md_report")
    check = read_json(tmp_path / "results/md/export/student/check.json")
    assert check["passed"] and check["n_frames"] == 2
    assert check["max_abs_force"] > 1e-3
    for name in ("nve_energy", "langevin_temperature", "rdf"):
        assert (tmp_path / f"{md}/figures/{name}.png").stat().st_size > 5000
    table = pd.read_csv(tmp_path / f"{md}/md_stability.csv")
    assert sorted(table["ensemble"]) == ["langevin", "nve"]
    assert np.isfinite(table["rdf_l1_vs_reference_A"]).all()
    summary = read_json(tmp_path / f"{md}/md_stability.json")
    assert set(summary["models"]) == {"student"}
    assert summary["settings"]["steps"] == 30
    rdf = np.asarray(summary["rdf"]["reference"])
    assert rdf.max() > 2.0  # the fcc alloy's first shell
