"""The config schema accepts the default config and names the key of every mistake."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml
from snakemake.exceptions import WorkflowError
from snakemake.utils import validate

ROOT = Path(__file__).resolve().parents[1]
SCHEMA = str(ROOT / "config" / "schemas" / "config.schema.yaml")


@pytest.fixture
def config() -> dict:
    return yaml.safe_load((ROOT / "config" / "config.yaml").read_text())


def test_default_config_is_valid_and_defaults_are_filled(config):
    validate(config, SCHEMA)
    assert config["results"] == "results"
    assert config["datasets"]["md"]["on_bad_rows"] == "error"


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda c: c["datasets"]["md"].update(trak="forcefield"), "'trak' was unexpected"),
        (lambda c: c["datasets"]["md"].update(track="regression"), "'regression' is not one of"),
        (lambda c: c["datasets"]["cg"].update(temperature="hot"), "'hot' is not of type 'number'"),
        (lambda c: c["datasets"]["md"]["split"].update(train=1.5), "1.5 is greater than"),
        (lambda c: c.update(seeds=1), "'seeds' was unexpected"),
        (lambda c: c["datasets"]["md"].pop("generate"), "is not valid under any of the given"),
    ],
)
def test_schema_errors_name_the_problem(config, edit, message):
    bad = copy.deepcopy(config)
    edit(bad)
    with pytest.raises(WorkflowError, match=message):
        validate(bad, SCHEMA)
