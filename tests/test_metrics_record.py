"""The metrics record: written files match its JSON schema, files of another shape are a
one-line InputError, and the shaping helpers turn evaluation values into plain JSON."""

from __future__ import annotations

import json

import jsonschema
import numpy as np
import pytest

from distillery.errors import InputError
from distillery.forcefield.record import forcefield_metrics
from distillery.forcefield.settings import FFGoalSettings
from distillery.metrics.build import Headline, goal_lines, model_record, number, plain, ratio
from distillery.metrics.record import SCHEMA, json_schema, read_metrics
from tests.metrics_inputs import ff_models, write_track_records


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    return write_track_records(tmp_path_factory.mktemp("records"))


def test_every_track_record_validates_against_the_json_schema(written):
    schema = json_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    validator = jsonschema.Draft202012Validator(schema)
    for path in written.values():
        document = json.loads(path.read_text())
        assert document["schema"] == SCHEMA
        assert list(validator.iter_errors(document)) == []


def test_the_schema_rejects_what_read_metrics_rejects(written):
    validator = jsonschema.Draft202012Validator(json_schema())
    document = json.loads(written["md"].read_text())
    del document["models"][0]["primary"]
    document["models"][1]["goals"][0]["comparison"] = "=="
    document["variant"] = 3
    problems = {e.json_path for e in validator.iter_errors(document)}
    assert problems == {"$.models[0]", "$.models[1].goals[0].comparison", "$.variant"}


def test_read_metrics_rejects_another_layout_in_one_line(written, tmp_path):
    # the force-field layout before the record: models keyed by name, goals as flags
    old = tmp_path / "old.json"
    old.write_text(json.dumps({
        "dataset": "md", "split": "test", "n_frames": 12, "device": {"platform": "cpu"},
        "models": {"teacher": {"force_mae": 0.04}}, "speedup_student_vs_teacher": 12.0}))
    with pytest.raises(InputError) as caught:
        read_metrics(old)
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith(f"{old}: ")
    assert f"expected a {SCHEMA} record" in message and "fix: re-run the evaluation" in message

    broken = tmp_path / "broken.json"
    broken.write_text('{"dataset": ')
    with pytest.raises(InputError, match=r"broken\.json: \(file\): found invalid JSON") as c:
        read_metrics(broken)
    assert "\n" not in str(c.value)

    listed = tmp_path / "list.json"
    listed.write_text("[1, 2]")
    with pytest.raises(InputError, match=r"list\.json: \(top level\)"):
        read_metrics(listed)

    # a record with an unknown track names the field
    document = json.loads(written["cg"].read_text())
    document["track"] = "astrology"
    bad = tmp_path / "track.json"
    bad.write_text(json.dumps(document))
    with pytest.raises(InputError, match=r"track\.json: track: found Input should be"):
        read_metrics(bad)


def test_plain_number_and_ratio_make_evaluation_values_json_ready():
    assert plain({"a": np.float32(0.5), "b": np.arange(3), "c": (np.int64(2), float("nan")),
                  1: {"d": float("-inf")}}) == {"a": 0.5, "b": [0, 1, 2], "c": [2, None],
                                                "1": {"d": None}}
    assert type(plain(np.int64(3))) is int
    assert number(np.float64(2.5)) == 2.5 and number("2.5") is None
    assert number(True) is None and number(float("nan")) is None and number(None) is None
    assert ratio(6, 3) == 2.0 and ratio(1, 0) is None and ratio(None, 2) is None
    assert ratio(float("inf"), 2) is None


def test_model_record_lifts_the_declared_fields_only():
    headline = Headline(primary="score", direction="maximize", unit="",
                        throughput="items_per_s", throughput_unit="items/s", n_params="params")
    record = model_record("m", "student", {
        "score": 0.9, "items_per_s": np.float64(30.0), "params": np.int64(12),
        "size_bytes": 100, "n_params": 7, "role": "x", "device": "cuda:0", "extra": 1.0},
        headline, device={"device": "NVIDIA H100", "platform": "gpu"})
    assert record.device == "NVIDIA H100"
    assert (record.n_params, record.size_bytes) == (12, 100)
    assert (record.throughput.value, record.primary.value) == (30.0, 0.9)
    # only the names the headline declares are lifted: `n_params` is a figure here
    assert record.metrics == {"n_params": 7, "extra": 1.0}


def test_goal_lines_say_met_or_missed_with_the_value(written):
    record = read_metrics(written["md"])
    assert goal_lines(record) == ["student: speedup >= 10 met (12)",
                                  "student: force_mae_ratio <= 1.25 met (1.2)",
                                  "student: force_mae_ratio_vs_baseline <= 0.85 met (0.5333)"]
    models = ff_models()
    models["teacher"]["force_mae"] = 0.0
    record = forcefield_metrics("md", models, FFGoalSettings(min_speedup=20), "cpu", 1)
    assert goal_lines(record) == ["student: speedup >= 20 missed (12)",
                                  "student: force_mae_ratio <= 1.25 missed (n/a)",
                                  "student: force_mae_ratio_vs_baseline <= 0.85 met (0.5333)"]
