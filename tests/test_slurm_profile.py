"""profiles/slurm/config.yaml: names real rules, and its site variables evaluate as documented."""

from __future__ import annotations

import re

import pytest
import yaml
from snakemake.resources import Resource

from tests.conftest import ROOT, run_snakemake

PROFILE = yaml.safe_load((ROOT / "profiles/slurm/config.yaml").read_text())


def evaluate(expression: object) -> object:
    """A profile resource as Snakemake evaluates it for a job (second attempt)."""
    return Resource.cli_evaluator("r", str(expression), wildcards={}, input=[], attempt=2,
                                  async_run=None)


def test_per_rule_resources_name_rules_of_the_workflow(tmp_path):
    """A renamed rule would silently lose its GPU and time limit."""
    listing = run_snakemake(tmp_path, "--list-rules").stdout
    rules = set(re.findall(r"^(\w+)", listing, re.M))
    assert {"ingest", "ff_train"} <= rules
    assert set(PROFILE["set-resources"]) <= rules, set(PROFILE["set-resources"]) - rules


def test_training_rules_ask_for_a_gpu_and_data_rules_do_not():
    resources = PROFILE["set-resources"]
    for rule in ("ff_train", "cg_train_delta", "can_train", "can_train_vgae", "ff_distill_set",
                 "ff_evaluate"):
        assert evaluate(resources[rule]["gpu"]) == 1, rule
    for rule in ("generate_frames", "generate_can_capture", "ingest", "split", "data_summary"):
        assert "gpu" not in resources[rule] and "gres" not in resources[rule], rule
    assert "gpu" not in PROFILE["default-resources"]


def test_site_variables_fill_account_and_partitions(monkeypatch):
    """An unset variable means "not given"; a set one reaches the resource unchanged."""
    defaults, teacher = PROFILE["default-resources"], PROFILE["set-resources"]["ff_train"]
    for name in ("ACCOUNT", "PARTITION", "GPU_PARTITION"):
        monkeypatch.delenv(f"DISTILLERY_SLURM_{name}", raising=False)
    assert evaluate(defaults["slurm_account"]) == ""
    assert evaluate(defaults["slurm_partition"]) == ""
    assert evaluate(teacher["slurm_partition"]) == ""
    monkeypatch.setenv("DISTILLERY_SLURM_ACCOUNT", "proj-42")
    monkeypatch.setenv("DISTILLERY_SLURM_GPU_PARTITION", "gpu-nodes")
    assert evaluate(defaults["slurm_account"]) == "proj-42"
    assert evaluate(teacher["slurm_partition"]) == "gpu-nodes"
    assert evaluate(defaults["slurm_partition"]) == ""


@pytest.mark.parametrize(("rule", "mem_mb"), [("ff_train", 64000), ("ingest", 16000)])
def test_memory_doubles_on_the_retry(rule, mem_mb):
    assert evaluate(PROFILE["set-resources"][rule]["mem_mb"]) == mem_mb
