"""Seed repeats of a student, distilled and from scratch: their names, seeds and teachers, and
their mean ± std over seeds in the metrics record with the two seed goals."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from distillery.can.record import classifier_metrics
from distillery.can.settings import (
    CANGoalSettings,
    ClassifierSettings,
    GATSettings,
    MLPSettings,
    SeedSettings,
)
from tests.metrics_inputs import CLASSES, can_model

SETTINGS = ClassifierSettings(
    students={"gat": GATSettings(hidden=4, heads=1), "mlp": MLPSettings()},
    scratch=("gat",), primary_student="mlp", seeds=SeedSettings(student="gat", n=3),
    train={"seed": 5})


def test_repeats_are_named_seeded_and_distill_from_their_teacher():
    assert SETTINGS.models() == ("teacher", "gat_kd", "mlp_kd", "gat_scratch", "gat_kd_rep1",
                                 "gat_scratch_rep1", "gat_kd_rep2", "gat_scratch_rep2")
    assert [SETTINGS.model_train(m).seed for m in SETTINGS.models()] == [5, 5, 5, 5, 6, 6, 7, 7]
    assert {SETTINGS.role(m).teacher for m in ("gat_kd", "gat_kd_rep1", "gat_kd_rep2")} == {
        "teacher"}
    # only the models of the dataset's seed are exported
    assert {m for m, _ in SETTINGS.exports()} == {"gat_kd", "mlp_kd"}
    seeds = SETTINGS.lineup().seeds
    assert seeds.models == {"teacher": ["teacher"],
                            "kd": ["gat_kd", "gat_kd_rep1", "gat_kd_rep2"],
                            "scratch": ["gat_scratch", "gat_scratch_rep1", "gat_scratch_rep2"]}
    assert seeds.seeds == {"teacher": [5], "kd": [5, 6, 7], "scratch": [5, 6, 7]}
    # a repeated teacher: KD repeat k learns from teacher repeat k
    both = SETTINGS.model_copy(update={"seeds": SeedSettings(student="gat", n=2, teacher=True)})
    assert both.role("gat_kd_rep1").teacher == "teacher_rep1"
    assert both.model_train("teacher_rep1").seed == 6
    assert both.lineup().seeds.models["teacher"] == ["teacher", "teacher_rep1"]
    # a changed number of seeds leaves the models of the dataset's seed alone
    more = SETTINGS.model_copy(update={"seeds": SeedSettings(student="gat", n=4)})
    assert all(more.role(m) == SETTINGS.role(m) for m in SETTINGS.models())


def test_the_repeated_student_must_also_train_from_scratch():
    with pytest.raises(ValidationError, match="seeds.student: 'mlp' must be a student also "
                                              "trained from scratch"):
        ClassifierSettings(scratch=("gat_small",), seeds=SeedSettings(student="mlp"))


def _seeded(f1: float, auroc: float) -> tuple[dict, dict]:
    """can_evaluate figures of one classifier whose F1 is `f1` on every class, and its IDS
    figures with AUROC `auroc` on the held-out spoofing attack."""
    figures = can_model(f1, 1.0, 0.1, 100)
    figures["steps"] = 300
    ids = {"attacks": {attack: {"n": 5, "detection_rate": {"0.01": 1.0}, "auroc": value}
                       for attack, value in (("spoofing", auroc), ("dos", 1.0))}}
    return figures, ids


def test_the_record_gives_mean_and_std_over_seeds_and_the_seed_goals():
    f1 = {"teacher": 0.95, "gat_kd": 0.940, "gat_kd_rep1": 0.944, "gat_kd_rep2": 0.948,
          "mlp_kd": 0.93, "gat_scratch": 0.92, "gat_scratch_rep1": 0.93,
          "gat_scratch_rep2": 0.94}
    auroc = {m: 0.5 + i / 20 for i, m in enumerate(f1)}
    both = {m: _seeded(f1[m], auroc[m]) for m in f1}
    models, ids = {m: v[0] for m, v in both.items()}, {m: v[1] for m, v in both.items()}
    models["teacher"]["params"] = 2_000
    record = classifier_metrics("can", models, CANGoalSettings(), SETTINGS.lineup(), "cpu",
                                CLASSES, 40, ids=ids, held_out=["spoofing"])
    # the repeats have no record of their own
    assert {m.model for m in record.models} == {"teacher", "gat_kd", "mlp_kd", "gat_scratch"}
    seeds = record.summary["seeds"]
    kd, scratch = seeds["kd"], seeds["scratch"]
    assert kd["macro_f1"]["values"] == [0.940, 0.944, 0.948]
    assert kd["macro_f1"]["mean"] == pytest.approx(0.944)
    assert kd["macro_f1"]["std"] == pytest.approx(0.004)  # sample std (n - 1)
    # on the classes trained on (spoofing held out) the F1 of every class is the same here
    assert kd["macro_f1_seen"]["mean"] == pytest.approx(0.944)
    assert scratch["macro_f1_seen"]["std"] == pytest.approx(0.01)
    assert kd["auroc_spoofing"]["values"] == [auroc["gat_kd"], auroc["gat_kd_rep1"],
                                              auroc["gat_kd_rep2"]]
    assert "auroc_dos" not in kd  # seen attacks are not part of the seed figures
    assert seeds["teacher"]["macro_f1"] == {"values": [0.95], "mean": 0.95, "std": 0.0}
    assert (kd["steps"], kd["seeds"], seeds["param_ratio"]) == ([300] * 3, [5, 6, 7], 0.05)
    assert seeds["f1_gap"] == pytest.approx(0.006)
    # 0.944 - 0.93 = 0.014, 1.4 times the larger std (the scratch twin's 0.01)
    assert seeds["kd_over_scratch_stds"] == pytest.approx(1.4)
    gat = next(m for m in record.models if m.model == "gat_kd")
    assert [(g.name, g.threshold, g.passed) for g in gat.goals] == [
        ("seeds_f1_gap", 0.01, True), ("seeds_kd_over_scratch_stds", 1.0, True)]
    strict = CANGoalSettings(seeds_max_f1_gap=0.005, seeds_kd_over_scratch=2.0)
    record = classifier_metrics("can", models, strict, SETTINGS.lineup(), "cpu", CLASSES, 40,
                                ids=ids, held_out=["spoofing"])
    assert [g.passed for m, g in record.goals() if m == "gat_kd"] == [False, False]
