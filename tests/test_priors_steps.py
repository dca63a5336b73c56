"""The CG track's steps called without Snakemake on a small chain whose reference forces come
from a known prior: priors from a user file, and a dataset that runs its priors alone."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import yaml

from distillery.cg.delta import mode_predictions
from distillery.cg.energy import KINDS, Priors, prior_energy_and_forces
from distillery.cg.serialise import load_priors
from distillery.cg.settings import MappingSettings, PriorFitSettings, SimulationSettings
from distillery.cg.simulation import cg_simulate
from distillery.cg.steps import cg_evaluate_modes, cg_fit_priors, cg_map, split_frames
from distillery.cg.terms import HarmonicTerm
from distillery.cg.topology import chain
from distillery.data.frames import FrameSet, write_frames
from distillery.data.splits import write_splits
from distillery.errors import InputError
from distillery.metrics.record import read_metrics

N_BEADS, N_FRAMES, KT = 6, 60, 0.025852
# the reference: a carbon chain under harmonic bonds and angles with these parameters
BOND, ANGLE = HarmonicTerm(k=4.0, x0=3.8), HarmonicTerm(k=2.0, x0=1.9)
FIT = PriorFitSettings(terms=("bond", "angle"), min_count=2)


def _known_priors(n_beads: int = N_BEADS) -> Priors:
    return Priors(chain(n_beads, types=("C",) * n_beads), KT,
                  {"bond": {"C-C": BOND}, "angle": {"C-C-C": ANGLE}})


def _user_file(path: Path, n_beads: int = N_BEADS, **terms: dict) -> Path:
    """A prior file as a user writes it: the topology and the terms, nothing else."""
    bonds = [[i, i + 1] for i in range(n_beads - 1)]
    path.write_text(yaml.safe_dump({
        "kT": KT, "topology": {"n_beads": n_beads, "bonds": bonds, "exclusion": 3,
                               "types": ["C"] * n_beads},
        **(terms or {"bond": {"C-C": BOND.to_dict()}, "angle": {"C-C-C": ANGLE.to_dict()}})}))
    return path


def _chain_frame(rng: np.random.Generator) -> np.ndarray:
    """Bond lengths and angles drawn from the known terms' Boltzmann distributions, random
    torsions."""
    beads, direction = [np.zeros(3)], np.array([1.0, 0.0, 0.0])
    for i in range(N_BEADS - 1):
        if i:
            # the new bond makes the angle theta with the previous bond's reverse
            theta = rng.normal(ANGLE.x0, np.sqrt(KT / ANGLE.k))
            perp = np.cross(direction, rng.normal(size=3))
            direction = -np.cos(theta) * direction + np.sin(theta) * perp / np.linalg.norm(perp)
        beads.append(beads[-1] + rng.normal(BOND.x0, np.sqrt(KT / BOND.k)) * direction)
    return np.stack(beads)


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> dict[str, Path]:
    """Mapped frames (identity mapping), beads and splits of the known-prior chain."""
    root = tmp_path_factory.mktemp("cg_steps")
    rng = np.random.default_rng(0)
    positions = np.stack([_chain_frame(rng) for _ in range(N_FRAMES)])
    energy, forces = prior_energy_and_forces(_known_priors(), positions)
    write_frames(root / "atoms.parquet", FrameSet(
        numbers=[np.full(N_BEADS, 6)] * N_FRAMES, positions=list(positions),
        energy=np.asarray(energy, np.float64), forces=list(np.asarray(forces, np.float64))))
    write_splits(root / "splits.json", {"train": np.arange(40), "val": np.arange(40, 45),
                                        "test": np.arange(45, N_FRAMES)})
    cg_map(root / "atoms.parquet", MappingSettings(), root / "frames.parquet",
           root / "beads.json")
    return {"frames": root / "frames.parquet", "beads": root / "beads.json",
            "splits": root / "splits.json"}


def _priors_step(data: dict[str, Path], out: Path, **kwargs) -> Priors:
    out.mkdir()
    return cg_fit_priors(data["frames"], data["beads"], data["splits"], FIT, 300.0,
                         dataset="chain", out_priors=out / "priors.npz",
                         out_readable=out / "priors.yaml", out_summary=out / "summary.json",
                         out_plots={k: out / f"fit_{k}.svg" for k in KINDS}, **kwargs)


@pytest.fixture(scope="module")
def known(data, tmp_path_factory) -> Path:
    """The priors step's output for a hand-written file of the generating parameters."""
    root = tmp_path_factory.mktemp("known")
    _priors_step(data, root / "out", priors_file=_user_file(root / "known.yaml"))
    return root / "out" / "priors.npz"


def _test_frames(data: dict[str, Path]) -> FrameSet:
    return split_frames(data["frames"], data["splits"], "test")[0]


def _energies(priors: Priors, data: dict[str, Path]) -> np.ndarray:
    return np.asarray(prior_energy_and_forces(priors, _test_frames(data).stacked_positions())[0])


def test_a_user_prior_file_replaces_the_fit(data, known, tmp_path):
    fitted = _priors_step(data, tmp_path / "fit")
    assert fitted.terms["bond"]["C-C"] != BOND  # fitted from samples: near, not equal
    # the fitted priors written to a file, given back as the user's file: the same energies
    read = _priors_step(data, tmp_path / "user", priors_file=tmp_path / "fit" / "priors.yaml")
    written = load_priors(tmp_path / "user" / "priors.npz")
    np.testing.assert_allclose(_energies(written, data), _energies(fitted, data), rtol=1e-6)
    assert read.kt == pytest.approx(fitted.kt)
    summary = json.loads((tmp_path / "user" / "summary.json").read_text())
    assert summary["source"] == str(tmp_path / "fit" / "priors.yaml")
    assert summary["temperature"] == pytest.approx(300.0)
    for kind in KINDS:
        assert (tmp_path / "user" / f"fit_{kind}.svg").read_text().lstrip().startswith("<?xml")
    # a hand-written file of the generating parameters: the reference energies exactly
    priors = load_priors(known)
    assert priors.terms["bond"]["C-C"] == BOND and priors.terms["angle"]["C-C-C"] == ANGLE
    np.testing.assert_allclose(_energies(priors, data), _test_frames(data).energy, atol=1e-9)


@pytest.mark.parametrize(("n_beads", "terms", "field"), [
    (N_BEADS - 1, {}, "topology.n_beads"),
    (N_BEADS, {"bond": {"C-N": BOND.to_dict()}}, "bond"),
])
def test_a_user_prior_file_that_does_not_fit_the_beads_stops(data, tmp_path, n_beads, terms,
                                                              field):
    bad = _user_file(tmp_path / "bad.yaml", n_beads, **terms)
    with pytest.raises(InputError, match=rf"bad\.yaml: {field}: found") as error:
        _priors_step(data, tmp_path / "out", priors_file=bad)
    assert error.value.field == field


def test_a_prior_only_dataset_is_evaluated_and_simulated_without_a_network(data, known,
                                                                          tmp_path):
    metrics = cg_evaluate_modes(data["frames"], data["splits"], known, ("prior-only",),
                                dataset="chain", out_metrics=tmp_path / "metrics.json",
                                out_table=tmp_path / "modes.csv",
                                out_parity=tmp_path / "parity.svg")
    # the reference forces are those of this very prior
    assert list(metrics) == ["prior-only"] and metrics["prior-only"]["force_mae"] < 1e-9
    record = read_metrics(tmp_path / "metrics.json")
    assert [(m.model, m.role) for m in record.models] == [("prior-only", "prior")]
    with pytest.raises(ValueError, match="need the delta model"):
        mode_predictions(load_priors(known), None, None, FrameSet([], []), ("full",))

    settings = SimulationSettings(steps=20, stride=10, starts=2, bins=5, temperature=300.0,
                                  seed=0)
    outputs = {f"out_{name}": tmp_path / f"sim_{name}.{suffix}" for name, suffix in
               (("summary", "json"), ("table", "csv"), ("distributions", "svg"), ("fes", "svg"))}
    summary = cg_simulate(data["frames"], data["splits"], known, settings, ("prior-only",),
                          out_trajectory=tmp_path / "trajectory.npz", **outputs)
    assert summary["model"] == "prior-only" and summary["stability"]["stable"] is True
    assert summary["prior_only"] is None and summary["fes_js_ratio_full_vs_prior"] is None
    assert 0.0 < summary["js_divergence"]["bond"] < 1.0
    assert np.load(tmp_path / "trajectory.npz")["positions"].shape == (2, 2, N_BEADS, 3)
    assert set(summary["js_halves"]) == {"bond", "angle", "dihedral", "fes"}
    assert summary["basin_populations"] == summary["reference"]["basin_populations"] == {}
    # the simulated prior carries the track's goals: no prior to compare with, no basins
    cg_evaluate_modes(data["frames"], data["splits"], known, ("prior-only",), dataset="chain",
                      out_metrics=tmp_path / "metrics.json", out_table=tmp_path / "modes.csv",
                      out_parity=tmp_path / "parity.svg",
                      simulation=outputs["out_summary"])
    (prior,) = read_metrics(tmp_path / "metrics.json").models
    assert [g.name for g in prior.goals] == ["fes_js_vs_floor", "stable_fraction"]
    assert prior.goals[0].value == pytest.approx(
        summary["js_divergence"]["fes"] / summary["js_reference_halves"]["fes"])
    with pytest.raises(ValueError, match="full \\(with a delta model\\)"):
        cg_simulate(data["frames"], data["splits"], known, settings, ("full",),
                    out_trajectory=tmp_path / "unused.npz", **outputs)
