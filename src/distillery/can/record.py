"""The CAN classifier evaluation (teacher, KD students, students trained from scratch, and the
payload model as a detector of attacks it never saw) as the metrics record, with the goals of
`CANGoalSettings` on the teacher, the primary student, the payload model and the model of the
four vehicle/attack splits (`ids.split_model`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from distillery.can.settings import (
    FUSIONS,
    PAYLOAD,
    SEED_STD_FLOOR,
    TEACHER,
    CANGoalSettings,
    ModelLineup,
    SeedLineup,
)
from distillery.can.vehicles import FOUR_SPLITS
from distillery.metrics.build import (
    Headline,
    check,
    environment,
    mean_std,
    model_record,
    number,
    plain,
    ratio,
)
from distillery.metrics.record import Goal, MetricsFile, ModelRecord

HEADLINE = Headline(primary="macro_f1", direction="maximize", unit="",
                    throughput="windows_per_s", throughput_unit="windows/s", n_params="params")
# the payload model is a detector, not a classifier: its headline is its worst attack's AUROC
DETECTOR_HEADLINE = Headline(primary="min_auroc", direction="maximize", unit="",
                             throughput="windows_per_s", throughput_unit="windows/s",
                             n_params="params")
# a fusion has a record only as the model of the vehicle/attack splits: its worst split
SPLIT_HEADLINE = Headline(primary="min_split_macro_f1", direction="maximize", unit="")


# the detectors the fusions combine, the supervised one first (payload: when configured)
SINGLE = ("teacher", "vgae", PAYLOAD)


def unseen_summary(ids: Mapping[str, Mapping[str, Any]], held_out: Sequence[str], fpr: float
                   ) -> dict[str, Any]:
    """Per held-out attack: its number of test windows `n`, every model's detection rate at
    `fpr` and AUROC, the better of the two single detectors, the better fusion and whether the
    fusion beats that detector (at `fpr`). An attack without test windows is listed with
    `n` 0 and no figures, so that it does not drop out of the report unnoticed."""
    key = str(fpr)
    out: dict[str, Any] = {}
    for attack in held_out:
        scored = {m: f["attacks"][attack] for m, f in ids.items() if attack in f["attacks"]}
        rates = {m: a["detection_rate"][key] for m, a in scored.items()}
        single = max((m for m in SINGLE if m in rates), key=rates.get, default=None)
        fused = max((m for m in FUSIONS if m in rates), key=rates.get, default=None)
        out[attack] = {"fpr": fpr, "n": max((a["n"] for a in scored.values()), default=0),
                       "detection_rate": rates,
                       "auroc": {m: f["attacks"][attack]["auroc"] for m, f in ids.items()
                                 if attack in f["attacks"]},
                       "best_single": single,
                       "best_fusion": fused,
                       "fusion_beats_best_single": None if single is None or fused is None
                       else rates[fused] > rates[single]}
    return out


def seen_macro_f1(figures: Mapping[str, Any], classes: Sequence[str],
                  held_out: Sequence[str]) -> float | None:
    """Mean F1 over the classes present in the test windows (or predicted) that were trained
    on: the macro F1 without the held-out classes, which a classifier cannot name."""
    counts = np.asarray(figures.get("confusion_matrix", []))
    f1 = figures.get("f1")
    if counts.ndim != 2 or f1 is None:
        return None
    present = (counts.sum(0) + counts.sum(1)) > 0
    kept = [f1[c] for i, c in enumerate(classes) if present[i] and c not in held_out]
    return float(np.mean(kept)) if kept else None


def payload_record(figures: Mapping[str, Any], ids: Mapping[str, Any], held_out: Sequence[str],
                   fpr: float, goals: CANGoalSettings, device: str | Mapping[str, Any]
                   ) -> ModelRecord:
    """The payload model as a detector: its lowest per-attack AUROC as the headline, the
    detection rate at `fpr` and the AUROC of every attack, and per held-out attack the unseen
    goals (an attack without test windows has no figures and misses them)."""
    attacks = ids["attacks"]
    aurocs = {a: f["auroc"] for a, f in attacks.items()}
    finite = [v for v in aurocs.values() if v is not None]
    rates = {a: f["detection_rate"][str(fpr)] for a, f in attacks.items()}
    checks = [g for attack in held_out for g in (
        check(f"unseen_detection_{attack}", rates.get(attack), goals.unseen_detection, ">="),
        check(f"unseen_auroc_{attack}", aurocs.get(attack), goals.unseen_auroc, ">="))]
    return model_record(PAYLOAD, "anomaly", {
        **figures, "min_auroc": min(finite) if finite else None, "auroc": aurocs,
        "detection_rate": rates, "fpr": fpr}, DETECTOR_HEADLINE, device=device, goals=checks)


def spread(values: Sequence[float | None]) -> dict[str, Any]:
    """The values of one figure over seeds with their mean and standard deviation (n - 1, as
    the leaderboard folds sweep seeds; 0 for one seed); None when a seed has no value."""
    kept = [number(v) for v in values]
    if not kept or None in kept:
        return {"values": kept, "mean": None, "std": None}
    mean, std = mean_std(kept)
    return {"values": kept, "mean": mean, "std": 0.0 if std is None else std}


def seed_summary(models: Mapping[str, Mapping[str, Any]], ids: Mapping[str, Mapping[str, Any]],
                 seeds: SeedLineup, classes: Sequence[str], held_out: Sequence[str]
                 ) -> dict[str, Any]:
    """Per role of the seed repeats (teacher, kd, scratch): its models and seeds, and over
    them the mean ± std of macro F1 (all classes, and `macro_f1_seen`), of the AUROC of every
    held-out attack (1 - p(normal) against the normal test windows) and the optimizer steps
    each model ran; then the KD student's gap to the teacher and its margin over the scratch
    twin in units of the larger spread (at least `SEED_STD_FLOOR`)."""
    roles: dict[str, Any] = {}
    for role, names in seeds.models.items():
        figures = [models[m] for m in names]
        roles[role] = {
            "models": list(names), "seeds": list(seeds.seeds[role]),
            "params": number(figures[0].get("params")),
            "steps": [number(f.get("steps")) for f in figures],
            "macro_f1": spread([f.get("macro_f1") for f in figures]),
            "macro_f1_seen": spread([seen_macro_f1(f, classes, held_out) for f in figures]),
            **{f"auroc_{attack}": spread([
                ids.get(m, {}).get("attacks", {}).get(attack, {}).get("auroc") for m in names])
               for attack in held_out}}
    f1 = {role: roles[role]["macro_f1_seen"] for role in roles}
    teacher, kd, scratch = f1["teacher"]["mean"], f1["kd"]["mean"], f1["scratch"]["mean"]
    gap = None if teacher is None or kd is None else teacher - kd
    margin = None
    if kd is not None and scratch is not None:
        margin = (kd - scratch) / max(f1["kd"]["std"], f1["scratch"]["std"], SEED_STD_FLOOR)
    return {"student": seeds.student, "figure": "macro_f1_seen", **roles,
            "param_ratio": ratio(roles["kd"]["params"], roles["teacher"]["params"]),
            "f1_gap": gap, "kd_minus_scratch": None if margin is None else kd - scratch,
            "kd_over_scratch_stds": margin}


def seed_goals(summary: Mapping[str, Any], goals: CANGoalSettings) -> list[Goal]:
    """The seed goals of the repeated KD student: its mean macro F1 (classes trained on)
    within `seeds_max_f1_gap` of the teacher's, and above its scratch twin's by at least
    `seeds_kd_over_scratch` standard deviations."""
    return [check("seeds_f1_gap", summary["f1_gap"], goals.seeds_max_f1_gap, "<="),
            check("seeds_kd_over_scratch_stds", summary["kd_over_scratch_stds"],
                  goals.seeds_kd_over_scratch, ">=")]


def split_goals(figures: Mapping[str, Any], goals: CANGoalSettings) -> list[Goal]:
    """The macro-F1 goal of each of the four splits (`vehicle_split_figures` of one model):
    `known_split_macro_f1` on known vehicle and attack, `unknown_split_macro_f1` on the
    others; a split without windows has no value and misses it."""
    return [check(f"macro_f1_{name}", figures["splits"][name]["macro_f1"],
                  goals.known_split_macro_f1 if name == FOUR_SPLITS[0]
                  else goals.unknown_split_macro_f1, ">=") for name in FOUR_SPLITS]


def with_split_goals(records: tuple[ModelRecord, ...], model: str, figures: Mapping[str, Any],
                     goals: CANGoalSettings, device: str | Mapping[str, Any]
                     ) -> tuple[ModelRecord, ...]:
    """`records` with the split goals on `model`'s record; a fusion, which has none, gets one
    of role `fusion`, headed by its lowest macro-F1 over the splits that have windows."""
    checks = tuple(split_goals(figures, goals))
    if any(r.model == model for r in records):
        return tuple(r.model_copy(update={"goals": (*r.goals, *checks)}) if r.model == model
                     else r for r in records)
    f1 = [s["macro_f1"] for s in figures["splits"].values() if s["macro_f1"] is not None]
    return (*records, model_record(model, "fusion", {
        "min_split_macro_f1": min(f1) if f1 else None, **figures}, SPLIT_HEADLINE,
        device=device, goals=checks))


def classifier_metrics(dataset: str, models: Mapping[str, Mapping[str, Any]],
                       goals: CANGoalSettings, lineup: ModelLineup,
                       device: str | Mapping[str, Any], classes: Sequence[str],
                       n_windows: int, *, ids: Mapping[str, Mapping[str, Any]] | None = None,
                       held_out: Sequence[str] = (), fprs: Sequence[float] = (0.01,),
                       payload: Mapping[str, Any] | None = None, variant: str = "default",
                       split: str = "test", vehicle_splits: Mapping[str, Any] | None = None,
                       split_model: str | None = None,
                       vehicles: Mapping[str, Sequence[str]] | None = None,
                       operating_points: Mapping[str, Any] | None = None) -> MetricsFile:
    """`models`: {name: flat figures} as `can_evaluate` collects them (`evaluate_model`,
    `best_epoch`, optionally `size_bytes`). `lineup` (`ClassifierSettings.lineup`) gives each
    model's role and the primary student compared with the teacher. Every model gets its
    speed-up over the teacher at batch 1 and batched; the teacher carries the macro-F1 goal, the
    primary student the F1-gap and speed-up goals. `ids` holds the IDS figures (`ids_figures`) of
    every scored model and fusion, kept in the summary with the unseen-attack comparison.
    `payload` holds the payload model's own figures (`params`, `size_bytes`, `windows_per_s`):
    with its IDS figures it becomes a record of role `anomaly` that carries the unseen-attack
    goals. Every classifier also gets `macro_f1_seen` (`seen_macro_f1`). `vehicle_splits`
    holds every scored model's figures on the four vehicle/attack splits
    (`vehicle_split_figures`), kept in the summary with the `vehicles` known and unknown;
    `split_model`'s carry the split goals. `operating_points` (`distillery.can.operating`),
    the figures at low false-positive rates on a long attack-free capture, go to the summary
    as they are."""
    student = lineup.student
    unknown = sorted(set(models) - set(lineup.roles))
    missing = [m for m in (TEACHER, student) if m not in models]
    if unknown or missing:
        raise ValueError(f"classifier models: found {sorted(models)}, expected "
                         f"{TEACHER!r} and {student!r} among {list(lineup.roles)}")
    teacher, kd = models[TEACHER], models[student]
    speedups = {name: {
        # latency ratios: batch 1 is the on-vehicle case, batched the offline one
        "speedup_vs_teacher": ratio(teacher.get("latency_batch1_ms"),
                                    m.get("latency_batch1_ms")),
        "speedup_vs_teacher_batched": ratio(teacher.get("latency_batched_ms"),
                                            m.get("latency_batched_ms")),
    } for name, m in models.items()}
    teacher_f1, student_f1 = number(teacher.get("macro_f1")), number(kd.get("macro_f1"))
    gap = None if teacher_f1 is None or student_f1 is None else teacher_f1 - student_f1
    both = [speedups[student]["speedup_vs_teacher"],
            speedups[student]["speedup_vs_teacher_batched"]]
    slowest = None if None in both else min(both)  # the goal holds at both batch sizes
    model_goals: dict[str, list[Goal]] = {
        TEACHER: [check("macro_f1", teacher_f1, goals.teacher_macro_f1, ">=")],
        student: [check("f1_gap", gap, goals.max_f1_gap, "<="),
                  check("speedup", slowest, goals.min_speedup, ">=")],
    }
    seeds, repeats = None, set()
    if lineup.seeds is not None:
        seeds = seed_summary(models, ids or {}, lineup.seeds, classes, held_out)
        repeated = lineup.seeds.models["kd"][0]
        model_goals[repeated] = [*model_goals.get(repeated, []), *seed_goals(seeds, goals)]
        # the repeats have no record of their own: their figures are in `summary.seeds`
        repeats = {m for names in lineup.seeds.models.values() for m in names[1:]}
    records = tuple(
        model_record(name, lineup.roles[name], {
            **figures, **speedups[name],
            "macro_f1_seen": seen_macro_f1(figures, classes, held_out)}, HEADLINE,
            device=device, goals=model_goals.get(name, ()))
        for name, figures in models.items() if name not in repeats)
    if payload is not None and ids is not None and PAYLOAD in ids:
        records += (payload_record(payload, ids[PAYLOAD], held_out, fprs[0], goals, device),)
    if vehicle_splits is not None and split_model is not None:
        if split_model not in vehicle_splits:
            raise ValueError(f"split model {split_model!r}: no split figures among "
                             f"{sorted(vehicle_splits)}")
        records = with_split_goals(records, split_model, vehicle_splits[split_model], goals,
                                   device)
    scratch = models.get(lineup.scratch) if lineup.scratch is not None else None
    summary = {
        "student": student,
        "teacher_macro_f1": teacher_f1,
        "teacher_macro_f1_seen": seen_macro_f1(teacher, classes, held_out),
        "student_macro_f1": student_f1,
        "scratch_macro_f1": None if scratch is None else number(scratch.get("macro_f1")),
        "f1_gap": gap,
        "speedup_batch1": both[0],
        "speedup_batched": both[1],
        "param_ratio": ratio(teacher.get("params"), kd.get("params")),
        "classes": plain(list(classes)),
        "n_windows": n_windows,
        "held_out": list(held_out),
    }
    if seeds is not None:
        summary["seeds"] = plain(seeds)
    if ids is not None:
        summary["ids"] = plain(dict(ids))
        summary["unseen"] = unseen_summary(ids, held_out, fprs[0])
    if vehicle_splits is not None:
        summary["vehicle_splits"] = {"split_model": split_model,
                                     "vehicles": plain(dict(vehicles or {})),
                                     "models": plain(dict(vehicle_splits))}
    if operating_points is not None:
        summary["operating_points"] = plain(dict(operating_points))
    return MetricsFile(dataset=dataset, track="classifier", variant=variant, split=split,
                       models=records, summary={**summary, **environment(device)})
