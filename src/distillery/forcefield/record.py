"""The force-field evaluation (teacher, distilled students, their student-sized baselines) as
the metrics record, with every student's goals checked against `FFGoalSettings`."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from distillery.forcefield.settings import FFGoalSettings, baseline_of, model_role
from distillery.metrics.build import (
    Headline,
    check,
    environment,
    mean_std,
    model_record,
    ratio,
)
from distillery.metrics.record import MetricsFile

HEADLINE = Headline(primary="force_mae", direction="minimize", unit="eV/Å",
                    throughput="frames_per_s", throughput_unit="frames/s")
# what the headline throughput (`frames_per_s`) times for every model alike, stated in the
# record's summary; `frames_per_s_model_only` is the model alone on prepared inputs
SPEED_INTERFACE = ("end to end through each model's ASE calculator, one structure per call: "
                   "positions in, energy and forces out, neighbour lists and host transfers "
                   "included")


def training_figures(info: Mapping[str, Any] | None) -> dict[str, Any]:
    """How a model was trained, from its train_info.json (None: a teacher trained elsewhere,
    with no steps to state): optimizer steps, epochs run of the epoch budget, best epoch,
    whether early stopping ended it before the budget did, and for a baseline the optimizer
    steps of its student, which its budget was derived from."""
    if info is None:
        return {"optimizer_steps": None, "stopped_early": None}
    figures = {"optimizer_steps": info["final_step"], "stopped_early": info["stopped_early"],
               "epochs_run": info["epochs_run"], "epoch_budget": info.get("epochs"),
               "best_epoch": info["best_epoch"], "steps_per_epoch": info["steps_per_epoch"]}
    if "student_steps" in info:
        figures["student_steps"] = info["student_steps"]
    return figures


def forcefield_metrics(dataset: str, models: Mapping[str, Mapping[str, Any]],
                       goals: FFGoalSettings, device: str | Mapping[str, Any], n_frames: int,
                       *, variant: str = "default", split: str = "test",
                       teacher_type: str = "model",
                       seed_groups: Mapping[str, Sequence[str]] | None = None) -> MetricsFile:
    """`models`: {model name: flat figures} as `ff_evaluate` collects them (`evaluate` +
    `calculator_speed` figures, the model-only `*_model_only` speeds, `n_params`,
    `size_bytes`, `config`, `training`), named `teacher`, `student[_<name>]` and
    `baseline[_<name>]`; the teacher and at least one student are required. Students and
    baselines get their speed-up (end to end, `SPEED_INTERFACE`; also model alone,
    `speedup_vs_teacher_model_only`, when the teacher is a model too) and force-MAE ratio over
    the teacher, a student with a baseline its force-MAE ratio over it; every student carries
    the goals, a trained teacher its own force-MAE goal when one is set.
    A `reference` teacher (the method that wrote the labels) makes the students surrogates and
    a `foundation` teacher's labels are the reference: then there is no ratio to the teacher's
    error, which is zero up to numerics; a foundation student's goal is its own force MAE.
    `seed_groups`: {student: its models under every seed, itself first}; the student gets the
    mean and std of its force-MAE ratio over its baseline across the seeds, its baseline goal
    checks the mean, and the further seeds' models carry no goals."""
    try:
        roles = {name: model_role(name) for name in models}
    except ValueError as exc:
        raise ValueError(f"force-field models: found {sorted(models)}: {exc}") from None
    if "teacher" not in models or "student" not in roles.values():
        raise ValueError(f"force-field models: found {sorted(models)}, expected the teacher, "
                         "at least one student and optionally baselines")
    teacher = models["teacher"]
    groups = dict(seed_groups or {})
    replicas = {m for group in groups.values() for m in group[1:]}
    records, summary = [], {}
    for name, role in roles.items():
        figures = dict(models[name])
        model_goals = []
        if role == "teacher" and teacher_type == "model" and goals.max_teacher_force_mae:
            model_goals = [check("force_mae", figures.get(HEADLINE.primary),
                                 goals.max_teacher_force_mae, "<=")]
        if role != "teacher":
            speedup = ratio(figures.get(HEADLINE.throughput), teacher.get(HEADLINE.throughput))
            # the teacher of a surrogate or of a foundation student is the reference itself:
            # its error is zero up to numerics and a ratio to it means nothing
            mae_ratio = (None if teacher_type != "model" else
                         ratio(figures.get(HEADLINE.primary), teacher.get(HEADLINE.primary)))
            figures |= {"speedup_vs_teacher": speedup, "force_mae_ratio_vs_teacher": mae_ratio,
                        "speedup_vs_teacher_model_only": ratio(
                            figures.get("frames_per_s_model_only"),
                            teacher.get("frames_per_s_model_only"))}
            summary[f"force_mae_ratio_{name}_vs_teacher"] = mae_ratio
        if role == "student":
            summary[f"speedup_{name}_vs_teacher"] = figures["speedup_vs_teacher"]
            model_goals = [
                check("speedup", figures["speedup_vs_teacher"], goals.min_speedup, ">=")]
            if teacher_type == "model":
                model_goals.append(check("force_mae_ratio", mae_ratio,
                                         goals.max_force_mae_ratio, "<="))
            elif teacher_type == "foundation":
                model_goals.append(check("force_mae_vs_foundation", figures.get(HEADLINE.primary),
                                         goals.max_force_mae_vs_foundation, "<="))
            baseline = models.get(baseline_of(name))
            if baseline is not None:
                figures["force_mae_ratio_vs_baseline"] = ratio(
                    figures.get(HEADLINE.primary), baseline.get(HEADLINE.primary))
                goal = "force_mae_ratio_vs_baseline"
                if name in groups:
                    # one seed's ratio is noise; the goal checks the mean over the seeds
                    figures |= seed_figures(models, groups[name])
                    goal += "_mean"
                    for stat in ("mean", "std"):
                        summary[f"force_mae_ratio_{name}_vs_baseline_{stat}"] = figures[
                            f"force_mae_ratio_vs_baseline_{stat}"]
                model_goals.append(check(goal, figures[goal], goals.max_baseline_ratio, "<="))
        if name in replicas:
            model_goals = []  # a further seed counts in its student's mean
        records.append(model_record(name, role, figures, HEADLINE, device=device,
                                    goals=model_goals))
    return MetricsFile(dataset=dataset, track="forcefield", variant=variant, split=split,
                       models=tuple(records),
                       summary={"n_frames": n_frames, "teacher_type": teacher_type,
                                "throughput_interface": SPEED_INTERFACE, **summary,
                                **environment(device)})


def seed_figures(models: Mapping[str, Mapping[str, Any]], group: Sequence[str]
                 ) -> dict[str, Any]:
    """Mean and sample std (ddof 1) over a student's seeds (`group`: its models under each
    seed) of its force MAE, its baseline's, and their ratio; the seeds whose student and
    baseline both have a force MAE count."""
    pairs = [(models[m].get(HEADLINE.primary), models.get(baseline_of(m), {}).get(
        HEADLINE.primary)) for m in group]
    pairs = [(s, b) for s, b in pairs if s is not None and b is not None and b > 0]
    student, baseline = (np.array([p[k] for p in pairs], float) for k in (0, 1))
    figures: dict[str, Any] = {"n_seeds": len(pairs)}
    for key, values in (("force_mae", student), ("baseline_force_mae", baseline),
                        ("force_mae_ratio_vs_baseline", student / baseline)):
        figures[f"{key}_mean"], figures[f"{key}_std"] = mean_std(values)
    return figures
