"""profiles/slurm/config.yaml: names real rules, and its site variables evaluate as documented.

The profile is read by Snakemake's own profile reader and resource parser, and each resource is
evaluated as Snakemake evaluates it for a job, so the tests follow the path a real run takes.
"""

from __future__ import annotations

import re
from collections import defaultdict

import pytest
from snakemake.profiles import ProfileConfigFileParser
from snakemake.resources import Resources

from tests.conftest import ROOT, run_snakemake

GPU_TRAINING = ("ff_train", "cg_train_delta", "can_train", "can_train_vgae")
GPU_INFERENCE = ("ff_distill_set", "ff_evaluate", "ff_distill_sample", "ff_distill_label")
DATA_RULES = ("generate_frames", "generate_can_capture", "ingest", "split", "data_summary")
SITE_VARIABLES = ("ACCOUNT", "PARTITION", "GPU_PARTITION")


def read_profile() -> tuple[Resources, dict[str, Resources]]:
    """default-resources and set-resources (per rule) as `snakemake --profile` parses them."""
    with open(ROOT / "profiles/slurm/config.yaml") as stream:
        arguments = ProfileConfigFileParser().parse(stream)
    per_rule: dict[str, list[str]] = defaultdict(list)
    for entry in arguments["set-resources"]:  # RULE:RESOURCE=VALUE, as on the command line
        rule, assignment = entry.split(":", 1)
        per_rule[rule].append(assignment)
    return (Resources.parse(arguments["default-resources"], allow_expressions=True),
            {rule: Resources.parse(assignments, allow_expressions=True)
             for rule, assignments in per_rule.items()})


DEFAULTS, PER_RULE = read_profile()


def evaluate(resources: Resources, name: str) -> object:
    """One resource as Snakemake evaluates it for a job (second attempt)."""
    return resources[name].evaluate(wildcards={}, input=[], attempt=2, threads=1, rulename="r",
                                    async_run=None).value


@pytest.fixture
def no_site_variables(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in SITE_VARIABLES:
        monkeypatch.delenv(f"DISTILLERY_SLURM_{name}", raising=False)
    return monkeypatch


def test_per_rule_resources_name_rules_of_the_workflow(tmp_path):
    """A renamed rule would silently lose its GPU and time limit."""
    listing = run_snakemake(tmp_path, "--list-rules").stdout
    rules = set(re.findall(r"^(\w+)", listing, re.M))
    assert {"ingest", "ff_train"} <= rules
    assert set(PER_RULE) <= rules, set(PER_RULE) - rules


def test_gpu_rules_ask_for_a_gpu_on_the_gpu_partition_and_data_rules_do_not(no_site_variables):
    no_site_variables.setenv("DISTILLERY_SLURM_PARTITION", "cpu-nodes")
    no_site_variables.setenv("DISTILLERY_SLURM_GPU_PARTITION", "gpu-nodes")
    for rule in GPU_TRAINING + GPU_INFERENCE:
        assert evaluate(PER_RULE[rule], "gpu") == 1, rule
        assert evaluate(PER_RULE[rule], "slurm_partition") == "gpu-nodes", rule
    for rule in DATA_RULES:
        assert "gpu" not in PER_RULE[rule] and "gres" not in PER_RULE[rule], rule
        assert "slurm_partition" not in PER_RULE[rule], rule  # the default partition applies
    assert "gpu" not in DEFAULTS
    assert evaluate(DEFAULTS, "slurm_partition") == "cpu-nodes"


def test_site_variables_fill_account_and_partitions(no_site_variables):
    """An unset variable means "not given"; a set one reaches the resource unchanged."""
    assert evaluate(DEFAULTS, "slurm_account") == ""
    assert evaluate(DEFAULTS, "slurm_partition") == ""
    assert evaluate(PER_RULE["ff_train"], "slurm_partition") == ""
    no_site_variables.setenv("DISTILLERY_SLURM_ACCOUNT", "proj-42")
    no_site_variables.setenv("DISTILLERY_SLURM_GPU_PARTITION", "gpu-nodes")
    assert evaluate(DEFAULTS, "slurm_account") == "proj-42"
    assert evaluate(PER_RULE["ff_train"], "slurm_partition") == "gpu-nodes"
    assert evaluate(DEFAULTS, "slurm_partition") == ""


def test_site_variables_are_data_never_python(no_site_variables, tmp_path):
    """Quotes, `$` and Python in a value reach the resource verbatim and run nothing."""
    marker = tmp_path / "pwned"
    hostile = (f"x' + str(__import__('pathlib').Path('{marker}').touch()) + '"
               f" $HOME {{x}} \"y\"")
    resources = {"ACCOUNT": (DEFAULTS, "slurm_account"),
                 "PARTITION": (DEFAULTS, "slurm_partition"),
                 "GPU_PARTITION": (PER_RULE["ff_evaluate"], "slurm_partition")}
    for variable, (table, name) in resources.items():
        no_site_variables.setenv(f"DISTILLERY_SLURM_{variable}", hostile)
        assert evaluate(table, name) == hostile, variable
    assert not marker.exists()


@pytest.mark.parametrize(("rule", "mem_mb"), [("ff_train", 64000), ("ingest", 16000)])
def test_memory_doubles_on_the_retry(rule, mem_mb):
    assert evaluate(PER_RULE[rule], "mem_mb") == mem_mb
