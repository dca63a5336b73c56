"""The CG jobs Snakemake plans (a dry run, nothing executed) for a dataset that runs its priors
alone (`cg.delta: null`) and one that reads its priors from a user file (`cg.priors.file`)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from tests.conftest import DEFAULT_CONFIG, TINY_CONFIG, run_snakemake

pytestmark = pytest.mark.workflow


def planned_inputs(output: str) -> dict[tuple[str, str], list[str]]:
    """{(rule, dataset): input files} of every job a dry run prints."""
    jobs = {}
    for block in re.split(r"\n(?=(?:local)?rule \w+:)", output):
        head = re.match(r"(?:local)?rule (\w+):", block.strip())
        dataset = re.search(r"^\s*wildcards: .*?dataset=([\w-]+)", block, re.M)
        if head is None or dataset is None:
            continue
        inputs = re.search(r"^\s*input: (.*)$", block, re.M)
        jobs[(head.group(1), dataset.group(1))] = inputs.group(1).split(", ") if inputs else []
    return jobs


def test_prior_only_and_user_prior_datasets_plan_no_delta_model_and_no_fit(tmp_path: Path):
    user = tmp_path / "user_priors.yaml"
    user.write_text("{}")
    overlay = tmp_path / "cg_only.yaml"
    overlay.write_text(yaml.safe_dump({"datasets": {
        "md": None, "mol": None, "mol_esp": None, "can": None,
        "cg": {"cg": {"delta": None}},
        "ala2": {"cg": {"priors": {"file": str(user)}}}}}))
    result = run_snakemake(tmp_path, "-n", configfiles=(DEFAULT_CONFIG, TINY_CONFIG, overlay))
    jobs = planned_inputs(result.stdout + result.stderr)
    cg_jobs = {job for job in jobs if job[0].startswith("cg_")}
    steps = ("cg_map", "cg_fit_priors", "cg_evaluate_modes", "cg_simulate", "cg_export_openmm")
    # the prior-only dataset: every step but the delta training, none of them reads a model
    assert cg_jobs == {*((s, "cg") for s in steps), *((s, "ala2") for s in steps),
                       ("cg_train_delta", "ala2")}
    for step in ("cg_evaluate_modes", "cg_simulate"):
        assert not [f for f in jobs[(step, "cg")] if "delta" in f]
        assert "results/ala2/priors/delta/model.npz" in jobs[(step, "ala2")]
    # the user's file is the input of the priors step of its dataset only
    assert str(user) in jobs[("cg_fit_priors", "ala2")]
    assert str(user) not in jobs[("cg_fit_priors", "cg")]


def test_the_default_peptide_reads_its_shipped_trajectory(tmp_path: Path):
    """`generate.shipped`: ingest reads the file the generator wrote earlier; nothing is
    simulated in the run."""
    result = run_snakemake(tmp_path, "-n", "results/ala2/data/frames.parquet",
                           configfiles=(DEFAULT_CONFIG,))
    jobs = planned_inputs(result.stdout + result.stderr)
    assert set(jobs) == {("ingest", "ala2")}
    (shipped,) = jobs[("ingest", "ala2")]
    assert shipped.endswith("data/reference/ala2_6ns.npz") and Path(shipped).is_file()
