"""The electrostatics evaluation (baselines, teachers, distilled student) as the metrics record,
with the learned models' goals checked against `EsGoalSettings`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from distillery.electrostatics.settings import EsGoalSettings
from distillery.metrics.build import Headline, check, environment, model_record, ratio
from distillery.metrics.record import MetricsFile

HEADLINE = Headline(primary="esp_rmse", direction="minimize", unit="kcal/mol/e",
                    throughput="frames_per_s", throughput_unit="frames/s")
# the reference method's own charges and the best atom-centred charges per frame; the models
# trained on the reference; the DCM teacher has no student, so it is no teacher of the record
ROLES = {"reference_charges": "baseline", "per_frame_fit": "baseline", "teacher": "teacher",
         "teacher_dcm": "model", "student": "student"}
FIT = "per_frame_fit"


def electrostatics_metrics(dataset: str, models: Mapping[str, Mapping[str, Any]],
                           goals: EsGoalSettings, device: str | Mapping[str, Any],
                           n_frames: int, *, variant: str = "default",
                           split: str = "test") -> MetricsFile:
    """`models`: {model: flat figures} as `es_evaluate` collects them: `esp_rmse`,
    `dipole_mae`, `quadrupole_mae`, `charge_mae` for every model, and for the learned ones
    (`n_dcm` among their figures) size and speed. `per_frame_fit` and `teacher` are required.
    Every model gets its ESP RMSE over the per-frame fit's, the learned ones their speed-up
    over the teacher; every learned model carries the goals: an atom-centred one within
    `max_esp_ratio_vs_fit`, one with off-centre charges within `max_dcm_esp_ratio_vs_fit`,
    and each a dipole MAE within `max_dipole_mae`."""
    unknown = sorted(set(models) - set(ROLES))
    if unknown or not {FIT, "teacher"} <= set(models):
        raise ValueError(f"electrostatics models: found {sorted(models)}, expected "
                         f"{FIT}, teacher and optionally others of {list(ROLES)}")
    fit, teacher = models[FIT], models["teacher"]
    records, summary = [], {}
    for name in (m for m in ROLES if m in models):
        figures = dict(models[name])
        model_goals = []
        if name != FIT:
            figures["esp_rmse_ratio_vs_fit"] = ratio(figures.get("esp_rmse"),
                                                     fit.get("esp_rmse"))
            summary[f"esp_rmse_ratio_{name}_vs_fit"] = figures["esp_rmse_ratio_vs_fit"]
        if "n_dcm" in figures:
            if name != "teacher":
                figures["speedup_vs_teacher"] = ratio(figures.get(HEADLINE.throughput),
                                                      teacher.get(HEADLINE.throughput))
                summary[f"speedup_{name}_vs_teacher"] = figures["speedup_vs_teacher"]
            limit = (goals.max_dcm_esp_ratio_vs_fit if figures["n_dcm"] > 0
                     else goals.max_esp_ratio_vs_fit)
            model_goals = [check("esp_rmse_ratio_vs_fit", figures["esp_rmse_ratio_vs_fit"],
                                 limit, "<="),
                           check("dipole_mae", figures.get("dipole_mae"),
                                 goals.max_dipole_mae, "<=")]
        records.append(model_record(name, ROLES[name], figures, HEADLINE, device=device,
                                    goals=model_goals))
    return MetricsFile(dataset=dataset, track="electrostatics", variant=variant, split=split,
                       models=tuple(records),
                       summary={"n_frames": n_frames, **summary, **environment(device)})
