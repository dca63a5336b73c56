"""Test-set figures of every classifier of the CAN track and the student/teacher comparison."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch
from torch import nn
from torch_geometric.data import Data

from distillery.can.latency import measure_latency
from distillery.can.metrics import classification_metrics
from distillery.can.models.build import count_parameters
from distillery.errors import ConfigError
from distillery.train.torch_loop import predict_logits

TEACHER = "teacher"
DEFAULT_GOALS = {"teacher_macro_f1": 0.95, "max_f1_gap": 0.02, "min_speedup": 5.0}


def role(name: str) -> str:
    if name == TEACHER:
        return "teacher"
    return "student" if name.endswith("_kd") else "baseline"


def evaluate_model(model: nn.Module, graphs: list[Data], classes: Sequence[str],
                   device: torch.device, batch_size: int, latency_windows: int,
                   latency_repeats: int) -> dict[str, Any]:
    """Classification metrics, parameter count and latency of one model on one set."""
    logits = predict_logits(model, graphs, batch_size, device).numpy()
    labels = np.array([int(g.y) for g in graphs])
    latency = measure_latency(model, graphs, device, batch_size, latency_windows,
                              latency_repeats)
    return {
        **classification_metrics(logits, labels, classes),
        "params": count_parameters(model),
        "latency_batch1_ms": latency["batch1_ms"],
        "latency_batched_ms": latency["batched_ms"],
        "latency_batch_size": latency["batch_size"],
        "windows_per_s": 1e3 / latency["batched_ms"],
        "device": str(device),
    }


def add_speedups(models: Mapping[str, dict[str, Any]]) -> None:
    """Teacher latency / model latency, at batch 1 and batched (in place)."""
    teacher = models[TEACHER]
    for entry in models.values():
        entry["speedup_vs_teacher"] = teacher["latency_batch1_ms"] / entry["latency_batch1_ms"]
        entry["speedup_vs_teacher_batched"] = (
            teacher["latency_batched_ms"] / entry["latency_batched_ms"])


def distillation_summary(models: Mapping[str, Mapping[str, Any]], student: str,
                         goals: Mapping[str, float]) -> dict[str, Any]:
    """Headline comparison of the primary KD student with the teacher and its no-KD twin."""
    base = student.removesuffix("_kd")
    if student not in models:
        distilled = [m.removesuffix("_kd") for m in models if m.endswith("_kd")]
        raise ConfigError(f"classifier.primary_student: found {base!r}, "
                          f"expected one of {distilled}")
    goals = {**DEFAULT_GOALS, **goals}
    teacher, kd = models[TEACHER], models[student]
    scratch = models.get(f"{base}_scratch")
    gap = teacher["macro_f1"] - kd["macro_f1"]
    summary = {
        "student": student,
        "teacher_macro_f1": teacher["macro_f1"],
        "student_macro_f1": kd["macro_f1"],
        "scratch_macro_f1": None if scratch is None else scratch["macro_f1"],
        "f1_gap": gap,
        "speedup_batch1": kd["speedup_vs_teacher"],
        "speedup_batched": kd["speedup_vs_teacher_batched"],
        "param_ratio": teacher["params"] / kd["params"],
    }
    summary["goals"] = {
        "teacher_macro_f1": teacher["macro_f1"] >= goals["teacher_macro_f1"],
        "f1_gap": gap <= goals["max_f1_gap"],
        "speedup": min(summary["speedup_batch1"], summary["speedup_batched"])
        >= goals["min_speedup"],
    }
    return summary
