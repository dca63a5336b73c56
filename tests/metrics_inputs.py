"""Per-model evaluation figures shaped as each track's evaluation script collects them, and
the metrics.json files the track record functions write from them (for the record and
leaderboard tests)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from distillery.can.record import classifier_metrics
from distillery.can.settings import CANGoalSettings, ClassifierSettings
from distillery.cg.record import cg_metrics
from distillery.forcefield.record import forcefield_metrics
from distillery.forcefield.settings import FFGoalSettings
from distillery.metrics.record import write_metrics

JAX_CPU = {"framework": "jax", "platform": "cpu", "device": "cpu", "n_devices": 1,
           "dtype": "float32"}
CLASSES = ["normal", "dos", "fuzzy", "spoofing"]


def ff_model(force_mae: float, frames_per_s: float, n_params: int) -> dict[str, Any]:
    """One model's entry of ff_evaluate: `evaluate` + `throughput` figures, size, config;
    numpy scalars as jax/numpy hand them back."""
    return {
        "role": "(set by the script)", "energy_mae_per_atom": np.float64(force_mae / 20),
        "energy_rmse_per_atom": force_mae / 15, "force_mae": np.float64(force_mae),
        "force_rmse": force_mae * 1.4, "force_r2": 0.98, "force_angle_mean_deg": 6.0,
        "force_error_p90": force_mae * 2, "force_error_p95": force_mae * 2.5,
        "force_error_max": force_mae * 6, "n_params": np.int64(n_params),
        "size_bytes": 4 * n_params + 512, "device": "cpu",
        "frames_per_s": frames_per_s, "atoms_per_s": frames_per_s * 9, "compile_s": 1.5,
        "batch_size": 16,
        "config": {"kind": "schnet", "features": 16, "n_layers": 2, "cutoff": 4.0},
    }


def ff_models() -> dict[str, dict[str, Any]]:
    # student: 12x faster, force MAE 1.2x the teacher's -> both default goals pass
    return {"teacher": ff_model(0.040, 50.0, 200_000),
            "student": ff_model(0.048, 600.0, 10_000),
            "baseline": ff_model(0.090, 610.0, 10_000)}


def can_model(macro_f1: float, batch1_ms: float, batched_ms: float,
              params: int) -> dict[str, Any]:
    """One model's entry of can_evaluate: `evaluate_model` figures plus role and best epoch."""
    return {
        "role": "(set by the script)", "best_epoch": 7, "n": 40, "accuracy": macro_f1 + 0.01,
        "macro_f1": macro_f1,
        "precision": dict.fromkeys(CLASSES, macro_f1), "recall": dict.fromkeys(CLASSES, 0.9),
        "f1": dict.fromkeys(CLASSES, macro_f1),
        "auroc_ovr": {**dict.fromkeys(CLASSES[:3], 0.99), "spoofing": None},
        "auroc_ovr_macro": 0.99, "confusion_matrix": np.diag([10, 10, 10, 10]).tolist(),
        "params": params, "latency_batch1_ms": batch1_ms, "latency_batched_ms": batched_ms,
        "latency_batch_size": 256, "windows_per_s": 1e3 / batched_ms, "device": "cpu",
    }


# the default classifiers without the seed repeats (teacher, gat_small_kd, mlp_kd, mlp_scratch
# here), mlp the primary student
CAN_LINEUP = ClassifierSettings(seeds=None).lineup()


def can_models() -> dict[str, dict[str, Any]]:
    # mlp_kd: F1 gap 0.015, 8x faster at batch 1 and 10x batched -> default goals pass
    return {"teacher": can_model(0.970, 4.0, 1.0, 50_000),
            "gat_small_kd": can_model(0.960, 1.0, 0.25, 5_000),
            "mlp_kd": can_model(0.955, 0.5, 0.1, 2_000),
            "mlp_scratch": can_model(0.930, 0.5, 0.1, 2_000)}


def cg_modes() -> dict[str, dict[str, Any]]:
    """cg.delta.mode_metrics figures with the ML model's size where it takes part."""
    def mode(force_mae: float) -> dict[str, Any]:
        return {"energy_mae_per_atom": force_mae / 10, "energy_rmse_per_atom": force_mae / 8,
                "force_mae": force_mae, "force_rmse": force_mae * 1.3, "force_r2": 0.9,
                "force_angle_mean_deg": 20.0, "force_error_p90": force_mae * 2,
                "force_error_p95": force_mae * 2.4, "force_error_max": force_mae * 5}

    return {"full": {**mode(0.10), "n_parameters": 3_000}, "prior-only": mode(0.30),
            "ml-only": {**mode(2.0), "n_parameters": 3_000}}


def cg_simulation(full_fes: float = 0.06, prior_fes: float = 0.5, floor: float = 0.025,
                  alpha_r: float = 0.22, stable_replicas: int = 8) -> dict[str, Any]:
    """A `cg_simulate` summary (the keys the record reads) of full and prior-only runs of 8
    replicas; the reference has 20 % of its frames in alpha_R."""
    def run(fes: float, populations: dict[str, float], stable: int) -> dict[str, Any]:
        return {"js_divergence": {"bond": 0.01, "angle": 0.02, "fes": fes},
                "js_halves": {"bond": 0.005, "angle": 0.01, "fes": fes / 3},
                "stability": {"stable": stable == 8, "n_replicas": 8, "stable_replicas": stable},
                "basin_populations": populations,
                "sampling": {b: {"decorrelation_frames": 20.0, "effective_samples": 400.0,
                                 "entries": 50} for b in populations}}

    reference = {"beta_C7eq": 0.79, "alpha_R": 0.20, "alpha_L_C7ax": 0.01}
    full = {"beta_C7eq": 0.99 - alpha_r, "alpha_R": alpha_r, "alpha_L_C7ax": 0.01}
    prior = {"beta_C7eq": 0.30, "alpha_R": 0.25, "alpha_L_C7ax": 0.45}
    return {"model": "full", "n_replicas": 8, "simulated_ps_total": 800.0,
            **run(full_fes, full, stable_replicas),
            "js_reference_halves": {"bond": 0.004, "angle": 0.008, "fes": floor},
            "reference": {"n_frames": 6000, "basin_populations": reference,
                          "sampling": {b: {"decorrelation_frames": 10.0,
                                           "effective_samples": 600.0, "entries": 80}
                                       for b in reference}},
            "prior_only": run(prior_fes, prior, 8),
            "fes_js_ratio_full_vs_prior": full_fes / prior_fes}


def write_track_records(root: Path) -> dict[str, Path]:
    """A metrics.json per track, each written by its track's record function."""
    paths = {"md": root / "md/forcefield/metrics.json",
             "can": root / "can/classifier/metrics.json",
             "cg": root / "cg/priors/metrics.json"}
    write_metrics(paths["md"], forcefield_metrics("md", ff_models(), FFGoalSettings(),
                                                  JAX_CPU, n_frames=12))
    write_metrics(paths["can"], classifier_metrics(
        "can", can_models(), CANGoalSettings(), CAN_LINEUP, "cpu", CLASSES, n_windows=40))
    write_metrics(paths["cg"], cg_metrics("cg", cg_modes(), JAX_CPU, n_frames=8))
    return paths
