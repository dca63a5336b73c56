"""Electrostatic errors in reporting units, and the point-charge baselines they compare.

ESP RMSE in kcal/mol/e over all grid points; dipole MAE in Debye as the mean length of the
error vector; quadrupole MAE in Buckingham (D·Å) over the six independent components; charge
MAE in e over atoms. The baselines are the reference charges themselves (their ESP) and point
charges fitted to each frame's own ESP with its total charge held (the best atom-centred
charges can do on that frame).
"""

from __future__ import annotations

import numpy as np
from ase import units

from distillery.data.electrostatics import KCAL_PER_MOL, QUADRUPOLE_ORDER
from distillery.data.frames import FrameSet
from distillery.electrostatics import physics
from distillery.electrostatics.model import total_charges

DEBYE = units.Debye  # e·Å
Predictions = dict[str, np.ndarray | list[np.ndarray]]


def electrostatic_metrics(predicted: Predictions, frames: FrameSet) -> dict[str, float]:
    """`esp_rmse` (kcal/mol/e), `dipole_mae` (D), `quadrupole_mae` (D·Å), `charge_mae` (e)
    of per-frame predictions against the frames' labels (those the frames have)."""
    labels = frames.extras
    out = {"esp_rmse": float(np.sqrt(np.mean(
        (np.asarray(predicted["esp"]) - np.asarray(labels["esp"])) ** 2))) / KCAL_PER_MOL}
    if "dipole" in labels:
        error = np.asarray(predicted["dipole"]) - np.asarray(labels["dipole"])
        out["dipole_mae"] = float(np.mean(np.linalg.norm(error, axis=-1))) / DEBYE
    if "quadrupole" in labels:
        rows, cols = np.array(QUADRUPOLE_ORDER).T
        error = (np.asarray(predicted["quadrupole"]) - np.asarray(labels["quadrupole"]))
        out["quadrupole_mae"] = float(np.mean(np.abs(error[:, rows, cols]))) / DEBYE
    mono = np.concatenate(list(labels["mono"]))
    if np.any(mono != 0):
        out["charge_mae"] = float(np.mean(np.abs(np.concatenate(list(predicted["mono"]))
                                                 - mono)))
    return out


def point_charge_predictions(frames: FrameSet, charges: list[np.ndarray]) -> Predictions:
    """ESP, dipole and quadrupole of atom-centred `charges` (one array per frame)."""
    out: dict[str, list[np.ndarray]] = {"esp": [], "dipole": [], "quadrupole": [], "mono": []}
    for k, q in enumerate(charges):
        positions, numbers = frames.positions[k], frames.numbers[k]
        origin = physics.centre_of_mass(positions, numbers)
        out["esp"].append(physics.esp(q, positions, frames.extras["esp_grid"][k]))
        out["dipole"].append(physics.dipole(q, positions, origin))
        out["quadrupole"].append(physics.quadrupole(q, positions, origin))
        out["mono"].append(np.asarray(q, np.float64))
    return {k: (v if k == "mono" else np.stack(v)) for k, v in out.items()}


def fitted_charges(frames: FrameSet) -> list[np.ndarray]:
    """Per frame, the atom-centred charges that best fit its own ESP at its total charge."""
    totals = total_charges(frames)
    return [physics.fit_charges(frames.extras["esp_grid"][k], frames.extras["esp"][k],
                                frames.positions[k], totals[k]) for k in range(len(frames))]


def baseline_metrics(frames: FrameSet) -> dict[str, dict[str, float]]:
    """Metrics of the reference charges (`reference_charges`, when the frames have them)
    and of the per-frame ESP fit (`per_frame_fit`)."""
    out = {"per_frame_fit": electrostatic_metrics(
        point_charge_predictions(frames, fitted_charges(frames)), frames)}
    mono = list(frames.extras["mono"])
    if any(np.any(q != 0) for q in mono):
        out["reference_charges"] = electrostatic_metrics(
            point_charge_predictions(frames, mono), frames)
    return out
