"""Shared energy/force metrics against hand-computed answers; plots are written."""

from __future__ import annotations

import numpy as np
import pytest

from distillery.forcefield.plots import error_histogram, pareto_plot, parity_plot
from distillery.metrics.regression import angular_errors, energy_metrics, force_metrics


def test_energy_metrics_are_per_atom() -> None:
    out = energy_metrics(np.array([1.0, -2.0]), np.array([0.0, 0.0]), np.array([2, 4]))
    assert out["energy_mae_per_atom"] == pytest.approx(0.5)
    assert out["energy_rmse_per_atom"] == pytest.approx(0.5)


def test_force_metrics_known_answers() -> None:
    ref = np.array([[1.0, 0.0, 0.0], [0.0, 2.0, 0.0], [0.0, 0.0, -1.0], [1.0, 1.0, 0.0]])
    pred = ref.copy()
    pred[0] = [0.0, 1.0, 0.0]  # rotated by 90 degrees: error norm sqrt(2)
    out = force_metrics(pred, ref)
    assert out["force_mae"] == pytest.approx(2.0 / 12)
    assert out["force_rmse"] == pytest.approx(np.sqrt(2.0 / 12))
    assert out["force_angle_mean_deg"] == pytest.approx(90.0 / 4)
    assert out["force_error_max"] == pytest.approx(np.sqrt(2))
    assert out["force_error_p95"] == pytest.approx(np.percentile([np.sqrt(2), 0, 0, 0], 95))
    ss_tot = np.sum((ref - ref.mean(0)) ** 2)
    assert out["force_r2"] == pytest.approx(1 - 2.0 / ss_tot)
    perfect = force_metrics(ref, ref)
    assert perfect["force_r2"] == 1.0 and perfect["force_error_max"] == 0.0


def test_angular_error_skips_zero_vectors_and_handles_opposites() -> None:
    ref = np.array([[1.0, 0, 0], [0, 0, 0], [0, 3.0, 0]])
    pred = np.array([[-2.0, 0, 0], [1.0, 0, 0], [0, 1.0, 0]])
    np.testing.assert_allclose(angular_errors(pred, ref), [180.0, 0.0])


def test_plots_are_written(tmp_path) -> None:
    rng = np.random.default_rng(0)
    f_ref = rng.normal(size=(50, 3))
    f_pred = f_ref + rng.normal(scale=0.1, size=f_ref.shape)
    parity_plot(tmp_path / "parity.png", "model", rng.normal(size=5), rng.normal(size=5),
                f_ref, f_pred)
    error_histogram(tmp_path / "errors.svg", "model", f_ref, f_pred)
    assert (tmp_path / "parity.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert b"<svg" in (tmp_path / "errors.svg").read_bytes()[:1000]


def test_pareto_plot_writes_a_png(tmp_path) -> None:
    path = tmp_path / "pareto.png"
    pareto_plot(path, {"teacher": (50.0, 0.01), "student": (2000.0, 0.02)}, batch_size=1)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and path.stat().st_size > 5000
