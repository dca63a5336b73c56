"""Typed settings: built once from the config, defaults defined once, errors that name the key."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from pydantic import BaseModel

from distillery.data.settings import MdEmtGenerate, at_temperature
from distillery.errors import ConfigError
from distillery.forcefield.settings import ForcefieldSettings
from distillery.settings import Config, json_schema, load, load_files, main, overlay
from tests.conftest import DEFAULT_CONFIG, VALIDATION_CONFIG

ROOT = Path(__file__).resolve().parents[1]
SCHEMA = ROOT / "config" / "schemas" / "config.schema.json"
# what a dataset entry must say, having no default: its track, format, data and temperature
SOURCE_KEYS = ("track", "format", "generate", "raw", "temperature")


@pytest.fixture
def config() -> dict:
    return yaml.safe_load((ROOT / "config" / "config.yaml").read_text())


def _leaves(obj: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(obj, dict):
        return {k: v for key, value in obj.items() for k, v in _leaves(value, f"{prefix}{key}.")
                .items()}
    return {prefix.rstrip("."): obj}


def test_committed_schema_is_generated_from_the_settings():
    # regenerate with `python -m distillery.settings schema > config/schemas/config.schema.json`
    assert json.loads(SCHEMA.read_text()) == json_schema()


def _undescribed(node: Any, where: str = "") -> list[str]:
    """Dotted paths of the properties, anywhere in a JSON schema, that have no description."""
    if isinstance(node, list):
        return [p for i, item in enumerate(node) for p in _undescribed(item, f"{where}[{i}]")]
    if not isinstance(node, dict):
        return []
    missing = [f"{where}.{key}" for key, prop in node.get("properties", {}).items()
               if not str(prop.get("description", "")).strip()]
    return missing + [p for key, value in node.items()
                      for p in _undescribed(value, f"{where}.{key}")]


def test_every_setting_has_a_description():
    schema = json_schema()
    assert len(schema["$defs"]) > 40  # the walk reaches every settings class
    assert _undescribed(schema) == []
    assert "fs" in schema["$defs"]["MDStabilitySettings"]["properties"]["timestep_fs"][
        "description"]


def test_shown_settings_validate_and_load_back(config, capsys):
    assert main(["show", str(ROOT / "config" / "config.yaml")]) == 0
    shown = yaml.safe_load(capsys.readouterr().out)
    jsonschema.validate(shown, json_schema())
    assert load(shown).config == load(config).config


def test_default_config_validates_against_the_schema_and_the_settings(config):
    jsonschema.validate(config, json.loads(SCHEMA.read_text()))
    resolved = load(config)
    assert set(resolved.datasets) == set(config["datasets"])
    assert resolved.forcefield("md").md_stability.temperature == 800.0
    assert resolved.cg("cg").simulate.temperature == 300.0


def test_settings_from_config_and_from_schema_defaults_agree(config):
    """Every block of the default config is the block the schema's defaults give."""
    schema = json.loads(SCHEMA.read_text())
    minimal = {"datasets": {name: {k: v for k, v in entry.items()
                                   if k in SOURCE_KEYS}
                            for name, entry in config["datasets"].items()}}
    from_file, from_defaults = load(config), load(minimal)
    for name in ("seed", "results", "report", "forcefield", "classifier", "electrostatics"):
        assert getattr(from_file.config, name) == getattr(from_defaults.config, name)
        if name in schema["properties"] and "default" in schema["properties"][name]:
            default = schema["properties"][name]["default"]
            value = getattr(from_defaults.config, name)
            assert (value.as_dict() if isinstance(value, BaseModel) else value) == default


def test_the_default_config_restates_no_default(config):
    """config/config.yaml holds only what differs from the settings' defaults."""
    defaults = load({"datasets": {n: {k: v for k, v in e.items() if k in SOURCE_KEYS}
                                  for n, e in config["datasets"].items()}})
    for name, entry in config["datasets"].items():
        default = defaults.dataset(name).as_dict()
        for key, value in _leaves({k: v for k, v in entry.items()
                                   if k not in SOURCE_KEYS}).items():
            assert _leaves(default).get(key) != value, f"datasets.{name}.{key} restates a default"


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda c: c["datasets"]["md"].update(trak="forcefield"),
         r"datasets\.md\.trak: unknown key, expected one of \[.*'track'"),
        (lambda c: c["datasets"]["md"].update(track="regression"),
         r"datasets\.md\.track: found \"regression\""),
        (lambda c: c["datasets"]["cg"].update(temperature="hot"), r"datasets\.cg\.temperature"),
        (lambda c: c["datasets"]["can"]["split"].update(train=1.5), r"datasets\.can\.split"),
        (lambda c: c.update(seeds=1), r"config: seeds: unknown key"),
        (lambda c: c["datasets"]["md"].pop("generate"), r"exactly one of `raw`"),
        (lambda c: c.update(forcefield={"teacher": {"train": {"epoch": 3}}}),
         r"forcefield\.teacher\.train\.epoch: unknown key, expected one of \[.*'epochs'"),
        (lambda c: c["datasets"]["md"].update(forcefield={"md_stability": {"temprature": 5}}),
         r"datasets\.md\.forcefield\.md_stability\.temprature: unknown key"),
        (lambda c: c.update(classifier={"students": {"m": {"kind": "mlp", "hiden": 4}},
                                        "scratch": [], "primary_student": "m"}),
         r"classifier\.students\.m\.mlp\.hiden: unknown key, expected one of \[.*'hidden'"),
        (lambda c: c["datasets"]["md"].pop("temperature"), r"datasets\.md\.temperature: missing"),
        (lambda c: c.update(forcefield={"students": {"big": {"train": {"epochs": 3}}}}),
         r"forcefield\.students\.big\.model: missing"),
        (lambda c: c.update(forcefield={"students": {"a/b": {"model": {}}}}),
         r"forcefield\.students\.a/b"),
        (lambda c: c["datasets"]["md"]["forcefield"].update(
            md_stability={"models": ["student_large"]}),
         r"md_stability\.models: \['student_large'\] not among the models \['teacher', 'student'"),
        (lambda c: c["datasets"]["mol_esp"]["electrostatics"]["reference"].update(source="can"),
         r"datasets\.mol_esp\.electrostatics\.reference\.source: found 'can', expected one "
         r"of \['md', 'mol'"),
        (lambda c: c.update(electrostatics={"teacher": {"charges": {"n_dcm": 9}}}),
         r"config: electrostatics\.teacher\.charges\.n_dcm: found 9"),
    ],
)
def test_errors_name_the_key_and_what_is_allowed(config, edit, message):
    bad = copy.deepcopy(config)
    edit(bad)
    with pytest.raises(ConfigError, match=message):
        load(bad)


def test_a_null_dataset_in_an_overlay_leaves_it_out(config):
    config = copy.deepcopy(config)
    config["datasets"]["cg"] = None
    jsonschema.validate(config, json.loads(SCHEMA.read_text()))
    resolved = load(config)
    assert "cg" not in resolved.datasets and "md" in resolved.datasets
    assert "cg" not in resolved.datasets_for("coarse_grained")
    with pytest.raises(ConfigError, match="datasets"):
        load({**config, "datasets": {name: None for name in config["datasets"]}})


def test_partial_blocks_keep_the_defaults_they_leave_out(config):
    """A dataset's own block overrides only what it names; the teacher keeps its own epochs."""
    config = copy.deepcopy(config)
    config["forcefield"] = {"teacher": {"train": {"batch_size": 8}}}
    config["datasets"]["md"]["forcefield"] = {"md_stability": {"temperature": 500},
                                              "teacher": {"train": {"epochs": 3}}}
    resolved = load(config)
    md, default = resolved.forcefield("md"), Config.model_fields["forcefield"].default
    assert md.md_stability.temperature == 500.0
    assert md.teacher.train.epochs == 3 and md.teacher.train.batch_size == 8
    assert md.teacher.model == default.teacher.model
    assert resolved.config.forcefield.teacher.train.epochs == default.teacher.train.epochs
    assert md.distill.md.temperature == 800.0  # the dataset's temperature fills the open value


def test_a_molecule_and_a_metal_run_at_their_own_temperatures(config):
    config = copy.deepcopy(config)
    config["datasets"]["mol"] = {"track": "forcefield", "format": "npz", "raw": "m.npz",
                                 "temperature": 500}
    resolved = load(config)
    assert resolved.forcefield("mol").md_stability.temperature == 500.0
    assert resolved.forcefield("md").md_stability.temperature == 800.0


def test_cg_models_follow_the_delta_model_and_priors_may_come_from_a_file(config):
    config = copy.deepcopy(config)
    default = load(config).cg("cg")
    assert default.models() == ("full", "prior-only", "ml-only")
    assert default.simulated() == ("full", "prior-only")
    assert default.role("ml-only") is default.delta and default.role("prior-only") is None
    # a prior-only dataset: no network, its prior evaluated and simulated alone
    config["datasets"]["cg"]["cg"] = {"delta": None, "priors": {"file": "user/priors.yaml"}}
    cg = load(config).cg("cg")
    assert (cg.models(), cg.simulated(), cg.priors.file) == (
        ("prior-only",), ("prior-only",), "user/priors.yaml")
    with pytest.raises(ValueError, match=r"'full': expected one of \['prior-only'\]"):
        cg.role("full")
    # priors from a file need no reference temperature; the simulation still needs one
    del config["datasets"]["cg"]["temperature"]
    config["datasets"]["cg"]["cg"]["simulate"] = {"temperature": 350}
    assert load(config).cg("cg").simulate.temperature == 350.0
    config["datasets"]["cg"]["cg"]["priors"] = {}
    with pytest.raises(ConfigError, match=r"datasets\.cg\.temperature: missing, .*fitting"):
        load(config)
    config["datasets"]["cg"]["cg"]["priors"] = {"file": "priors.txt"}
    with pytest.raises(ConfigError, match=r"datasets\.cg\.cg\.priors\.file: found \"priors.txt"):
        load(config)


def test_training_seeds_follow_the_dataset_unless_set(config):
    config = copy.deepcopy(config)
    config["datasets"]["md"]["seed"] = 7
    config["classifier"] = {"train": {"seed": 3}}
    resolved = load(config)
    assert resolved.forcefield("md").teacher.train.seed == 7
    assert resolved.classifier("can").train.seed == 3


def test_students_are_named_sizes_each_with_its_own_baseline(config):
    config = copy.deepcopy(config)
    config["forcefield"] = {"students": {"tiny": {"model": {"features": 4}, "baseline": False}},
                            "distill": {"hvp": True}}
    config["datasets"]["md"]["seed"] = 7
    resolved = load(config)
    md, mol = resolved.forcefield("md"), resolved.forcefield("mol")
    # md names its own sizes, which replace the global `students:`
    assert md.models() == ("teacher", "student", "student_small", "baseline", "baseline_small")
    # mol trains its student under three seeds, each with a baseline; the tiny size has none
    assert mol.models() == ("teacher", "student", "student_seed1", "student_seed2",
                            "student_tiny", "baseline", "baseline_seed1", "baseline_seed2")
    small = md.role("student_small")
    assert (small.model.features, small.train.epochs, small.train.seed) == (8, 20, 7)
    assert small.train.hvp_weight == 1.0  # students learn the teacher's HVP targets
    baseline = md.role("baseline_small")
    assert baseline.model == small.model and baseline.train.hvp_weight == 0.0
    # mol's baseline_train serves every baseline, under its student's seed, and every
    # baseline stops early after `baseline_patience` epochs
    patience = ForcefieldSettings.model_fields["baseline_patience"].default
    assert patience > 0
    train = mol.role("baseline").train
    assert (train.batch_size, train.seed, train.patience) == (4, 0, patience)
    assert (baseline.train.patience, small.train.patience) == (patience, 0)
    with pytest.raises(ValueError, match="'baseline_tiny': expected one of"):
        mol.role("baseline_tiny")


def test_overlay_replaces_a_block_of_another_kind():
    from distillery.can.settings import ClassifierSettings

    merged = overlay(ClassifierSettings(), {"teacher": {"hidden": 16}})
    assert merged["teacher"]["heads"] == ClassifierSettings().teacher.heads
    assert ClassifierSettings.model_validate(merged).teacher.hidden == 16


def test_a_generator_runs_at_the_dataset_temperature_unless_its_block_sets_one():
    def generator(block: dict[str, Any]) -> Any:
        entry = load({"datasets": {"md": {"track": "forcefield", "format": "npz",
                                          "temperature": 600, "generate": block}}}).dataset("md")
        return at_temperature(entry.generate, entry.temperature)

    assert generator({"kind": "md_emt"}).temperature == 600.0
    assert generator({"kind": "md_emt", "temperature": 300}).temperature == 300.0
    assert generator({"kind": "xtb_molecule"}).temperature == 600.0
    chain = generator({"kind": "cg_chain", "stride": 5})  # no temperature of its own
    assert chain.stride == 5 and "temperature" not in chain.as_dict()
    default = MdEmtGenerate(kind="md_emt")
    assert at_temperature(default, None) == default  # no dataset temperature: its own default


def test_validation_overlay_adds_its_datasets_and_keeps_the_defaults():
    default = load_files([DEFAULT_CONFIG])
    both = load_files([DEFAULT_CONFIG, VALIDATION_CONFIG])
    added = set(both.datasets) - set(default.datasets)
    assert added == {"mol_validation", "si_chgnet", "si_sevennet"}
    assert set(default.datasets) <= set(both.datasets)
    teacher = both.forcefield("mol_validation").teacher
    assert teacher.teacher_type() == "model" and teacher.train.patience > 0
    for foundation in ("si_chgnet", "si_sevennet"):
        assert both.forcefield(foundation).teacher.teacher_type() == "foundation"


def test_further_seeds_train_each_student_and_baseline_again(config):
    config = copy.deepcopy(config)
    config["datasets"]["md"]["seed"] = 7
    config["datasets"]["md"]["forcefield"] = {"student": {"seeds": 3}}
    md = load(config).forcefield("md")
    assert md.seed_groups() == {"student": ("student", "student_seed1", "student_seed2")}
    assert md.models() == ("teacher", "student", "student_seed1", "student_seed2",
                           "baseline", "baseline_seed1", "baseline_seed2")
    assert md.seed_replicas() == ("student_seed1", "student_seed2", "baseline_seed1",
                                  "baseline_seed2")
    assert list(md.student_models()) == ["student"]  # one card and one export per size
    # each further seed is the next integer after the dataset's, for student and baseline
    assert [md.role(m).train.seed for m in md.models()[1:]] == [7, 8, 9, 7, 8, 9]
    assert md.role("baseline_seed2").model == md.role("student").model
    config["datasets"]["md"]["forcefield"] = {"students": {"seed1": {"model": {}}}}
    with pytest.raises(ConfigError, match=r"'seed1'\]: a size may not be named like a "):
        load(config).forcefield("md")
