"""Energy and force error metrics as plain numpy functions (shared by every evaluation)."""

from __future__ import annotations

import numpy as np


def energy_metrics(pred: np.ndarray, ref: np.ndarray, n_atoms: np.ndarray) -> dict[str, float]:
    """MAE and RMSE of the energy per atom (eV/atom)."""
    err = (np.asarray(pred, float) - np.asarray(ref, float)) / np.asarray(n_atoms, float)
    return {"energy_mae_per_atom": float(np.mean(np.abs(err))),
            "energy_rmse_per_atom": float(np.sqrt(np.mean(err**2)))}


def angular_errors(pred: np.ndarray, ref: np.ndarray, min_norm: float = 1e-8) -> np.ndarray:
    """Angle (degrees) between predicted and reference force vectors, rows (M, 3); vectors
    shorter than `min_norm` have no direction and are skipped."""
    pred, ref = np.asarray(pred, float), np.asarray(ref, float)
    norm_p, norm_r = np.linalg.norm(pred, axis=1), np.linalg.norm(ref, axis=1)
    keep = (norm_p > min_norm) & (norm_r > min_norm)
    cos = np.sum(pred[keep] * ref[keep], axis=1) / (norm_p[keep] * norm_r[keep])
    return np.degrees(np.arccos(np.clip(cos, -1.0, 1.0)))


def force_metrics(pred: np.ndarray, ref: np.ndarray) -> dict[str, float]:
    """Force errors over atoms, rows (M, 3) in eV/Å.

    MAE, RMSE and R² are over Cartesian components; percentiles and the maximum are of the
    per-atom error vector norm |F_pred - F_ref|; the angular error is a mean in degrees.
    """
    pred, ref = np.asarray(pred, float).reshape(-1, 3), np.asarray(ref, float).reshape(-1, 3)
    diff = pred - ref
    ss_res = float(np.sum(diff**2))
    ss_tot = float(np.sum((ref - ref.mean(axis=0)) ** 2))
    norm = np.linalg.norm(diff, axis=1)
    angles = angular_errors(pred, ref)
    return {
        "force_mae": float(np.mean(np.abs(diff))),
        "force_rmse": float(np.sqrt(np.mean(diff**2))),
        "force_r2": 1.0 - ss_res / ss_tot if ss_tot > 0 else float("nan"),
        "force_angle_mean_deg": float(np.mean(angles)) if angles.size else float("nan"),
        "force_error_p90": float(np.percentile(norm, 90)),
        "force_error_p95": float(np.percentile(norm, 95)),
        "force_error_max": float(np.max(norm)),
    }
