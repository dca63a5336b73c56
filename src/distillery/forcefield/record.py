"""The force-field evaluation (teacher, distilled student, student-sized baseline) as the
metrics record, with the student's goals checked against `FFGoalSettings`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from distillery.forcefield.settings import FFGoalSettings
from distillery.metrics.build import Headline, check, environment, model_record, ratio
from distillery.metrics.record import MetricsFile

ROLES = ("teacher", "student", "baseline")  # each model is named after its role
HEADLINE = Headline(primary="force_mae", direction="minimize", unit="eV/Å",
                    throughput="frames_per_s", throughput_unit="frames/s")


def forcefield_metrics(dataset: str, models: Mapping[str, Mapping[str, Any]],
                       goals: FFGoalSettings, device: str | Mapping[str, Any], n_frames: int,
                       *, variant: str = "default", split: str = "test") -> MetricsFile:
    """`models`: {teacher|student|baseline: flat figures} as `ff_evaluate` collects them
    (`evaluate` + `throughput` figures, `n_params`, `size_bytes`, `config`); teacher and
    student are required. Student and baseline get their speed-up and force-MAE ratio over
    the teacher; the student carries the goals."""
    unknown = sorted(set(models) - set(ROLES))
    missing = [r for r in ("teacher", "student") if r not in models]
    if unknown or missing:
        raise ValueError(f"force-field models: found {sorted(models)}, expected teacher, "
                         "student and optionally baseline")
    teacher = models["teacher"]
    records, summary = [], {}
    for name in (r for r in ROLES if r in models):
        figures = dict(models[name])
        model_goals = []
        if name != "teacher":
            speedup = ratio(figures.get(HEADLINE.throughput), teacher.get(HEADLINE.throughput))
            mae_ratio = ratio(figures.get(HEADLINE.primary), teacher.get(HEADLINE.primary))
            figures |= {"speedup_vs_teacher": speedup, "force_mae_ratio_vs_teacher": mae_ratio}
            summary[f"force_mae_ratio_{name}_vs_teacher"] = mae_ratio
            if name == "student":
                summary["speedup_student_vs_teacher"] = speedup
                model_goals = [check("speedup", speedup, goals.min_speedup, ">="),
                               check("force_mae_ratio", mae_ratio, goals.max_force_mae_ratio,
                                     "<=")]
        records.append(model_record(name, name, figures, HEADLINE, device=device,
                                    goals=model_goals))
    return MetricsFile(dataset=dataset, track="forcefield", variant=variant, split=split,
                       models=tuple(records),
                       summary={"n_frames": n_frames, **summary, **environment(device)})
