"""The force-field evaluation (teacher, distilled students, their student-sized baselines) as
the metrics record, with every student's goals checked against `FFGoalSettings`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from distillery.forcefield.settings import FFGoalSettings, baseline_of, model_role
from distillery.metrics.build import Headline, check, environment, model_record, ratio
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
                       teacher_type: str = "model") -> MetricsFile:
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
    error, which is zero up to numerics; a foundation student's goal is its own force MAE."""
    try:
        roles = {name: model_role(name) for name in models}
    except ValueError as exc:
        raise ValueError(f"force-field models: found {sorted(models)}: {exc}") from None
    if "teacher" not in models or "student" not in roles.values():
        raise ValueError(f"force-field models: found {sorted(models)}, expected the teacher, "
                         "at least one student and optionally baselines")
    teacher = models["teacher"]
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
                model_goals.append(check("force_mae_ratio_vs_baseline",
                                         figures["force_mae_ratio_vs_baseline"],
                                         goals.max_baseline_ratio, "<="))
        records.append(model_record(name, role, figures, HEADLINE, device=device,
                                    goals=model_goals))
    return MetricsFile(dataset=dataset, track="forcefield", variant=variant, split=split,
                       models=tuple(records),
                       summary={"n_frames": n_frames, "teacher_type": teacher_type,
                                "throughput_interface": SPEED_INTERFACE, **summary,
                                **environment(device)})
