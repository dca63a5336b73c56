"""Model cards: one markdown page per distilled student, written from what the workflow already
recorded (the metrics record, the student's train_info.json, the MD stability summary), so a
card never disagrees with metrics.json.

A card gives the student's size, its speed end to end through its ASE calculator and of the
model alone at every latency batch size, beside the teacher's,
its accuracy against the reference and the teacher (and its baseline's), its MD stability, the
distillation set it learnt from, its goals and a "fit for" line derived from them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from distillery.forcefield.pareto import dominators
from distillery.forcefield.record import training_figures
from distillery.forcefield.settings import baseline_of
from distillery.metrics.build import number, ratio
from distillery.metrics.record import Goal, MetricsFile, ModelRecord

BATCH_KEY = re.compile(r"^frames_per_s_batch(\d+)$")
# goal name -> (what it judges, the teacher's figure its ratio is taken over)
GOAL_TEXT = {"speedup": ("speed", "the teacher's frames/s"),
             "force_mae_ratio": ("accuracy", "the teacher's force MAE")}
# goals on a figure itself, not on a ratio: (what it judges, the figure's unit and meaning)
ABSOLUTE_GOAL_TEXT = {
    "force_mae_vs_foundation": ("agreement", "eV/Å force MAE against the teacher")}
# what the teacher is (the record's `teacher_type`), said once on every card
TEACHER_TEXT = {
    "model": "The teacher is a trained model: the student is scored against the reference "
             "labels, beside its ratio to the teacher's error.",
    "foundation": "The teacher is a foundation model whose labels are the reference here: "
                  "every error on this card is against the teacher's labels.",
    "reference": "The teacher is the reference method itself, so the student is a surrogate "
                 "of it: it is scored against the reference, and no ratio to the teacher's "
                 "error (zero up to numerics) is taken.",
}


def _num(value: Any, fmt: str = ".4g", scale: float = 1.0) -> str:
    value = number(value)
    return "n/a" if value is None else format(value * scale, fmt)


def _times(value: Any) -> str:
    value = number(value)
    return "n/a" if value is None else f"{value:.3g}x"


def _describe(model: ModelRecord) -> str:
    """`painn, 88,849 parameters` for a trained model; the calculator for an ASE teacher."""
    config = model.metrics.get("config")
    if isinstance(config, Mapping):
        return f"{config['kind']}, {model.n_params:,} parameters"
    return f"{model.metrics.get('kind', model.model)}, source {model.metrics.get('source')}"


def _architecture(model: ModelRecord) -> str:
    c = model.metrics["config"]
    return (f"{c['kind']}: {c['features']} features, {c['n_layers']} interaction layer(s), "
            f"{c['n_rbf']} radial basis functions, cutoff {c['cutoff']:g} Å")


def missed_goal(goal: Goal) -> str:
    """`misses the speed goal (3.1x the teacher's frames/s, goal >= 10x)`."""
    if goal.name in ABSOLUTE_GOAL_TEXT:
        kind, unit = ABSOLUTE_GOAL_TEXT[goal.name]
        return (f"misses the {kind} goal ({_num(goal.value)} {unit}, goal {goal.comparison} "
                f"{goal.threshold:g})")
    kind, of = GOAL_TEXT.get(goal.name, (goal.name, "its reference"))
    if goal.value is None:  # e.g. a teacher that is the reference method has zero error
        return f"cannot meet the {kind} goal: no ratio to {of} (zero or not measured)"
    return (f"misses the {kind} goal ({_times(goal.value)} {of}, goal {goal.comparison} "
            f"{goal.threshold:g}x)")


def _goal_kinds(goals: tuple[Goal, ...]) -> str:
    """`speed and accuracy`: what the goals judge, in their order."""
    kinds = [ABSOLUTE_GOAL_TEXT.get(g.name, GOAL_TEXT.get(g.name, (g.name, "")))[0]
             for g in goals if g.name in GOAL_TEXT or g.name in ABSOLUTE_GOAL_TEXT]
    kinds = list(dict.fromkeys(kinds))
    return " and ".join([", ".join(kinds[:-1]), kinds[-1]] if len(kinds) > 1 else kinds)


def fit_for(model: str, goals: tuple[Goal, ...], md: Mapping[str, Any] | None,
            temperature: float) -> str:
    """What the student can be used for, from its goals and MD stability (`md`: its entry of
    md_stability.json, None when it was not run)."""
    reasons = [missed_goal(g) for g in goals if not g.passed]
    if md is not None and not md["all_stable"]:
        reasons.append(f"went unstable in MD at {temperature:g} K")
    if not reasons:
        met = f"meets the {_goal_kinds(goals)} goals"
        if md is None:
            return (f"production MD of this system at {temperature:g} K once an MD stability "
                    f"run confirms it (not run: add `{model}` to "
                    f"`forcefield.md_stability.models`); {met}")
        return (f"production MD of this system at {temperature:g} K: {met} and stayed stable "
                "in every MD run")
    fast = all(g.passed for g in goals if g.name == "speedup")
    use = ("fast screening or sampling whose frames the teacher relabels, not production MD"
           if fast else "not recommended over the teacher")
    return f"{use}: {'; '.join(reasons)}"


def _speed(student: ModelRecord, teacher: ModelRecord) -> list[str]:
    """End to end through each model's ASE calculator (the headline, which the speed goal
    judges), then the model alone at every latency batch size."""
    def value(model: ModelRecord) -> Any:
        return None if model.throughput is None else model.throughput.value

    mine, theirs = value(student), value(teacher)
    speedup = _times(student.metrics.get("speedup_vs_teacher"))
    rows = [f"| timed | {student.model} | teacher | speed-up |", "| --- | --- | --- | --- |",
            f"| end to end (ASE calculator, one structure per call) | {_num(mine)} | "
            f"{_num(theirs)} | {speedup} |"]
    for b in sorted(int(m[1]) for k in student.metrics if (m := BATCH_KEY.match(k))):
        alone, teacher_alone = (student.metrics[f"frames_per_s_batch{b}"],
                                teacher.metrics.get(f"frames_per_s_batch{b}"))
        rows.append(f"| model alone, batch {b} | {_num(alone)} | {_num(teacher_alone)} | "
                    f"{_times(ratio(alone, teacher_alone))} |")
    rows += ["", "End to end, each call hands a model's ASE calculator one structure and reads "
             "back its energy and forces, neighbour lists and host transfers included, the "
             f"same for the teacher: the student runs at {speedup} the teacher's speed there, "
             "the figure the speed goal judges. Model alone: the network on prepared inputs "
             "(neighbour lists built, jit excluded)."]
    if "config" not in teacher.metrics:
        rows.append("The teacher is a calculator with no network to time alone.")
    return rows


def _accuracy(record: MetricsFile, student: ModelRecord, teacher: ModelRecord) -> list[str]:
    figures = student.metrics
    rows = ["| model | compared with | force MAE (eV/Å) | energy MAE (meV/atom) |",
            "| --- | --- | --- | --- |",
            f"| {student.model} | reference | {_num(student.primary.value)} | "
            f"{_num(figures.get('energy_mae_per_atom'), '.4g', 1000)} |",
            f"| {student.model} | teacher | {_num(figures.get('force_mae_vs_teacher'))} | "
            f"{_num(figures.get('energy_mae_per_atom_vs_teacher'), '.4g', 1000)} |",
            f"| teacher | reference | {_num(teacher.primary.value)} | "
            f"{_num(teacher.metrics.get('energy_mae_per_atom'), '.4g', 1000)} |"]
    baseline = next((m for m in record.models if m.model == baseline_of(student.model)), None)
    if baseline is not None:
        rows.append(f"| {baseline.model} (same architecture, reference labels only) | "
                    f"reference | {_num(baseline.primary.value)} | "
                    f"{_num(baseline.metrics.get('energy_mae_per_atom'), '.4g', 1000)} |")
    kind = record.summary.get("teacher_type", "model")
    rows += ["", TEACHER_TEXT.get(kind, TEACHER_TEXT["model"])]
    versus = ([f"{_times(figures.get('force_mae_ratio_vs_teacher'))} the teacher's"]
              if kind == "model" else [])
    if baseline is not None:
        versus.append(f"{_times(figures.get('force_mae_ratio_vs_baseline'))} its baseline's.")
    else:
        versus.append("no baseline was trained for this student.")
    text = ", ".join(versus) if baseline is not None else "; ".join(versus)
    rows.append(f"Force MAE {text}" if kind == "model" or baseline is not None
                else text.capitalize())
    return rows


def _md(model: str, entry: Mapping[str, Any] | None, s: Mapping[str, Any]) -> list[str]:
    """The student's MD runs (`entry` of md_stability.json, `s` its settings)."""
    if entry is None:
        return [f"Not run: add `{model}` to `forcefield.md_stability.models` to run it."]
    runs = entry["runs"]
    line = (f"{len(runs)} runs (NVE and Langevin from {s['starts']} test structure(s)), "
            f"{s['steps']} steps of {s['timestep_fs']:g} fs at {s['temperature']:g} K: ")
    if entry["all_stable"]:
        line += (f"stable in every run; largest NVE energy drift "
                 f"{_num(entry.get('max_abs_nve_drift_eV_per_atom_per_ps'), '.3g')} "
                 f"eV/atom/ps; ∫|g - g_ref| dr = {_num(entry.get('rdf_l1_vs_reference_A'), '.3g')}"
                 " Å against the test split.")
        return [line]
    failed = [f"{r['ensemble']} from test frame {r['start_frame']} at "
              f"{_num(r['time_to_instability_ps'], '.3g')} ps ({r['instability']})"
              for r in runs if not r["stable"]]
    return [line + "unstable: " + "; ".join(failed) + "."]


def _steps(training: Mapping[str, Any]) -> str:
    """`3,800 optimizer steps, 20 of 20 epochs (best epoch 19), ran its whole budget`."""
    steps, budget = training.get("optimizer_steps"), training.get("epoch_budget")
    end = ("stopped early: its validation loss no longer improved" if training.get("stopped_early")
           else "ran its whole budget")
    return (f"{'n/a' if steps is None else f'{steps:,}'} optimizer steps, "
            f"{training.get('epochs_run')} of {'n/a' if budget is None else budget} epochs "
            f"(best epoch {training.get('best_epoch')}), {end}")


def _training(info: Mapping[str, Any], baseline: ModelRecord | None) -> list[str]:
    """The distillation set, the student's training (`info`: its train_info.json) and its
    baseline's, from the record."""
    distill = info.get("distill")
    lines = [f"Trained {_steps(training_figures(info))}; batch size {info.get('batch_size')}."]
    if baseline is not None:
        training = baseline.metrics.get("training") or {}
        lines.append(f"Its baseline ({baseline.model}) trained {_steps(training)}; its budget "
                     "was the fewest epochs that give it at least the student's "
                     f"{_num(training.get('student_steps'), ',.0f')} optimizer steps.")
    if distill is None:
        return ["The distillation set was not recorded.", *lines]
    weight = distill["teacher_weight"]
    return [f"Distillation set of {distill['frames']} frames: {distill['original']} training "
            f"frames, {distill['displaced']} displaced copies and {distill['teacher_md']} "
            f"frames of teacher-driven MD, labelled by the teacher (target on the training "
            f"frames: {weight:g} x teacher + {1 - weight:g} x reference); Hessian-vector-"
            f"product targets: {'yes' if distill['hvp'] else 'no'}.", *lines]


def model_card(record: MetricsFile, model: str, training: Mapping[str, Any],
               md: Mapping[str, Any] | None, temperature: float) -> str:
    """The markdown card of the student `model` of a force-field metrics record; `training`:
    its train_info.json; `md`: md_stability.json of the dataset (None when no MD was run);
    `temperature`: the dataset's MD temperature (K)."""
    models = {m.model: m for m in record.models}
    if models.get(model) is None or models[model].role != "student":
        raise ValueError(f"{model!r} is not a student of the {record.dataset} record "
                         f"(models: {sorted(models)})")
    student, teacher = models[model], models["teacher"]
    points = {m.model: (None if m.throughput is None else m.throughput.value, m.primary.value)
              for m in record.models}
    beaten_by = dominators(points, model)
    size = student.size_bytes
    md_entry = None if md is None else md["models"].get(model)
    lines = [
        f"# {model}: distilled force field of `{record.dataset}`",
        "",
        f"Distilled from the teacher ({_describe(teacher)}); evaluated on the {record.split} "
        f"split ({record.summary.get('n_frames')} frames, variant {record.variant}) on "
        f"{student.device}.",
        "",
        "| | |",
        "| --- | --- |",
        f"| architecture | {_architecture(student)} |",
        f"| parameters | {student.n_params:,} |",
        f"| file size | {'n/a' if size is None else f'{size:,} bytes ({size / 1024:.1f} KiB)'} |",
        "| on the Pareto front (force MAE against frames/s) | "
        + ("yes |" if not beaten_by else f"no: {', '.join(beaten_by)} at least as fast and as "
           "accurate |"),
        "",
        "## Speed (frames/s, energies and forces)",
        "",
        *_speed(student, teacher),
        "",
        f"## Accuracy on the {record.split} split",
        "",
        *_accuracy(record, student, teacher),
        "",
        "## MD stability",
        "",
        *_md(model, md_entry, {} if md is None else md["settings"]),
        "",
        "## Training data",
        "",
        *_training(training, models.get(baseline_of(model))),
        "",
        "## Goals",
        "",
        *(f"- {g.name} {g.comparison} {g.threshold:g}: {'met' if g.passed else 'missed'} "
          f"({_num(g.value, '.3g')})" for g in student.goals),
        "",
        f"**Fit for:** {fit_for(model, student.goals, md_entry, temperature)}.",
    ]
    return "\n".join(lines) + "\n"
