"""The classifier settings name every model once: roles, architectures, KD settings, the
anomaly models, the exports and the evaluation lineup, with clear errors for unknown names."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from distillery.can.settings import (
    ClassifierModel,
    ClassifierSettings,
    GATSettings,
    KDSettings,
    MLPSettings,
    VGAESettings,
)

SETTINGS = ClassifierSettings(
    teacher=GATSettings(hidden=16), kd=KDSettings(temperature=2.0),
    students={"gat_tiny": GATSettings(hidden=4, heads=1), "mlp_wide": MLPSettings(hidden=64)},
    scratch=("gat_tiny",), primary_student="gat_tiny",
    anomaly=VGAESettings(hidden=16), anomaly_student=VGAESettings(hidden=4, latent=2, heads=1),
    seeds=None)


def test_models_teacher_then_every_kd_then_the_scratch_students():
    assert SETTINGS.models() == ("teacher", "gat_tiny_kd", "mlp_wide_kd", "gat_tiny_scratch")
    assert SETTINGS.scored_models() == (*SETTINGS.models(), "vgae", "vgae_student")
    no_student = SETTINGS.model_copy(update={"anomaly_student": None})
    assert no_student.scored_models() == (*SETTINGS.models(), "vgae")


def test_role_gives_the_architecture_and_kd_settings_of_distilled_models_only():
    teacher, kd, scratch = (SETTINGS.role(m) for m in
                            ("teacher", "gat_tiny_kd", "gat_tiny_scratch"))
    assert (teacher.role, teacher.student, teacher.arch, teacher.kd) == (
        "teacher", None, GATSettings(hidden=16), None)
    assert (kd.role, kd.student, kd.arch.hidden, kd.kd) == (
        "kd", "gat_tiny", 4, KDSettings(temperature=2.0))
    assert (scratch.role, scratch.student, scratch.arch, scratch.kd) == (
        "scratch", "gat_tiny", kd.arch, None)
    assert [m.distilled for m in (teacher, kd, scratch)] == [False, True, False]
    assert [m.record_role for m in (teacher, kd, scratch)] == ["teacher", "student", "baseline"]
    # a model name that only looks like a student's is not one
    for name in ("mlp_wide_scratch", "lstm_kd", "gat_tiny"):
        with pytest.raises(ValueError, match=f"classifier model '{name}': expected one of"):
            SETTINGS.role(name)


def test_kd_settings_belong_to_kd_models_only():
    with pytest.raises(ValidationError, match="KD settings and a teacher are for `kd` models "
                                              "only"):
        ClassifierModel(name="teacher", role="teacher", student=None, arch=GATSettings(),
                        kd=KDSettings())
    with pytest.raises(ValidationError, match="every `kd` model needs them"):
        ClassifierModel(name="m_kd", role="kd", student="m", arch=MLPSettings())
    with pytest.raises(ValidationError, match="every `kd` model needs them"):
        ClassifierModel(name="m_kd", role="kd", student="m", arch=MLPSettings(),
                        kd=KDSettings())  # no teacher named


def test_anomaly_roles_name_the_teacher_of_the_distilled_vgae():
    vgae, student = (SETTINGS.anomaly_role(m) for m in ("vgae", "vgae_student"))
    assert (vgae.arch.hidden, vgae.teacher) == (16, None)
    assert (student.arch.hidden, student.teacher) == (4, "vgae")
    with pytest.raises(ValueError, match=r"anomaly model 'vgae_student': expected one of "
                                         r"\['vgae'\]"):
        SETTINGS.model_copy(update={"anomaly_student": None}).anomaly_role("vgae_student")


def test_exports_every_distilled_student_in_both_formats():
    assert SETTINGS.exports() == (("gat_tiny_kd", "torchscript"), ("gat_tiny_kd", "onnx"),
                                  ("mlp_wide_kd", "torchscript"), ("mlp_wide_kd", "onnx"))


def test_lineup_roles_and_the_primary_students_models():
    lineup = SETTINGS.lineup()
    assert lineup.roles == {"teacher": "teacher", "gat_tiny_kd": "student",
                            "mlp_wide_kd": "student", "gat_tiny_scratch": "baseline"}
    assert (lineup.student, lineup.scratch) == ("gat_tiny_kd", "gat_tiny_scratch")
    other = SETTINGS.model_copy(update={"primary_student": "mlp_wide"}).lineup()
    assert (other.student, other.scratch) == ("mlp_wide_kd", None)
    with pytest.raises(ValidationError, match=r"student 'lstm' is not among students "
                                              r"\['gat_small', 'mlp'\]"):
        ClassifierSettings(primary_student="lstm")


def test_kd_settings_do_not_reach_the_teacher_or_the_evaluation_lineup():
    """A changed KD setting must rerun the distilled students only (their params change)."""
    changed = SETTINGS.model_copy(update={"kd": KDSettings(temperature=8.0)})
    differs = [m for m in SETTINGS.models() if changed.role(m) != SETTINGS.role(m)]
    assert differs == ["gat_tiny_kd", "mlp_wide_kd"]
    assert changed.lineup() == SETTINGS.lineup()
