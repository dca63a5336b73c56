"""The coarse-grained part of the DAG through Snakemake on the tiny config."""

from __future__ import annotations

import json

import numpy as np
import pytest
import yaml

from distillery.cg.compare import coordinate_histograms, fes_histograms
from distillery.cg.serialise import load_priors, priors_to_dict
from distillery.cg.settings import MODELS
from distillery.data.frames import read_frames
from distillery.metrics.record import read_metrics

pytestmark = pytest.mark.workflow

PRIORS = "results/cg/priors"


@pytest.fixture(scope="module")
def cg_run(tiny_run):
    return tiny_run / PRIORS


def test_priors_are_fitted_saved_and_plotted(cg_run):
    readable = yaml.safe_load((cg_run / "priors.yaml").read_text())
    assert readable["kind"] == "parametric"
    assert list(readable["bond"]) == ["C-C"] and readable["bond"]["C-C"]["form"] == "harmonic"
    priors = load_priors(cg_run / "priors.yaml")
    assert priors_to_dict(load_priors(cg_run / "priors.npz")) == priors_to_dict(priors)
    recovery = json.loads((cg_run / "fit_summary.json").read_text())["recovery"]
    # 160 training frames: coarse, but the bonded constants are still close to the truth
    assert abs(recovery["bond"]["k_rel_error"]) < 0.15
    assert abs(recovery["angle"]["x0_rel_error"]) < 0.02
    for term in ("bond", "angle", "dihedral", "pair"):
        assert (cg_run / "plots" / f"fit_{term}.svg").read_text().lstrip().startswith("<?xml")


def test_modes_and_simulation_are_reported(cg_run):
    record = read_metrics(cg_run / "metrics.json")
    modes = {m.model: m for m in record.models}
    assert set(modes) == set(MODELS)
    assert [modes[m].role for m in MODELS] == ["full", "prior", "ablation"]
    rmse = {m: modes[m].metrics["force_rmse"] for m in MODELS}
    # the prior carries almost all of the force; the residual model alone cannot
    assert rmse["ml-only"] > 5 * rmse["prior-only"]
    sim = json.loads((cg_run / "simulation.json").read_text())
    # the chain under its own fitted priors stays intact over the short run
    assert sim["stability"]["stable"] is True
    assert sim["stability"]["simulated_ps"] == pytest.approx(200 * 0.005)
    # the divergences are those of the saved trajectory and of the two halves of the reference
    reference = read_frames(cg_run / "cg_frames.parquet").stacked_positions()
    traj = np.load(cg_run / "simulation" / "trajectory.npz")
    simulated = traj["positions"].reshape(-1, *traj["positions"].shape[2:]).astype(np.float64)
    settings, topology = sim["settings"], load_priors(cg_run / "priors.yaml").topology

    def divergences(a: np.ndarray, b: np.ndarray) -> dict[str, float]:
        hists = coordinate_histograms(a, b, topology, settings["bins"])
        fes = fes_histograms(a, b, topology, settings["fes"], settings["bins"],
                             settings["variables"])
        return {**{name: h.divergence for name, h in hists.items()}, "fes": fes.divergence}

    assert divergences(reference, simulated) == pytest.approx(sim["js_divergence"], abs=1e-6)
    # the reference's halves in time: its first and second half
    half = len(reference) // 2
    assert divergences(reference[:half], reference[half:]) == pytest.approx(
        sim["js_reference_halves"], rel=1e-9)
    # the prior alone is simulated beside the full model, from the same starts
    prior = sim["prior_only"]
    assert prior["stability"]["stable"] is True
    assert 0.0 < prior["js_divergence"]["fes"] < 1.0
    assert sim["fes_js_ratio_full_vs_prior"] == pytest.approx(
        sim["js_divergence"]["fes"] / prior["js_divergence"]["fes"])
    # the simulated model carries the track's goals, on the figures of simulation.json (the
    # chain's prior is the generator's potential: no goal against it)
    goals = {g.name: g for g in modes["full"].goals}
    assert list(goals) == ["fes_js_vs_floor", "stable_fraction"]
    assert goals["fes_js_vs_floor"].value == pytest.approx(
        sim["js_divergence"]["fes"] / sim["js_reference_halves"]["fes"])
    assert goals["stable_fraction"].passed
    assert record.summary["simulation"]["fes_js"]["prior-only"] == prior["js_divergence"]["fes"]
    # the chain generator's beads are all carbon: one type, one class per kind
    assert json.loads((cg_run / "beads.json").read_text())["types"] == ["C"] * 12
    assert traj["positions"].shape == (10, 2, 12, 3)
    log = (cg_run.parents[0] / "logs" / "cg_simulate.log").read_text()
    assert "langevin: 200/200 steps" in log
