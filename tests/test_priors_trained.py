"""Priors refined jointly with the delta network (`cg.priors.train`), on frames whose forces
come from known harmonic terms: training from deliberately wrong force constants recovers the
true ones, and the constants stay positive."""

from __future__ import annotations

import json
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from pydantic import ValidationError

from distillery.cg.delta import mode_metrics, mode_predictions, train_delta
from distillery.cg.energy import KINDS, Priors, prior_energy_and_forces
from distillery.cg.serialise import load_priors, save_priors
from distillery.cg.settings import (
    CGSettings,
    DeltaSettings,
    MappingSettings,
    PriorFitSettings,
    SimulationSettings,
)
from distillery.cg.simulation import cg_simulate
from distillery.cg.steps import (
    cg_evaluate_modes,
    cg_fit_priors,
    cg_map,
    cg_train_delta,
    split_frames,
)
from distillery.cg.terms import HarmonicTerm, RepulsionTerm
from distillery.cg.topology import chain
from distillery.cg.trainable import prior_parameters, with_parameters
from distillery.data.frames import FrameSet, write_frames
from distillery.data.splits import write_splits
from distillery.errors import ConfigError
from distillery.metrics.record import read_metrics
from distillery.potentials.model import load_model
from distillery.potentials.settings import CGnetSettings
from distillery.train.checkpoint import CheckpointManager
from distillery.train.settings import FFTrainSettings, ScheduleSettings

KT = 0.025852
BOND, ANGLE = HarmonicTerm(k=20.0, x0=1.5), HarmonicTerm(k=5.0, x0=2.0)
TOPOLOGY = chain(3, types=("A", "B", "A"))
TRUE = Priors(TOPOLOGY, KT, {"bond": {"A-B": BOND}, "angle": {"A-B-A": ANGLE}})
# wrong by a factor of two either way, and a bond length 0.05 Å short
WRONG = Priors(TOPOLOGY, KT, {"bond": {"A-B": HarmonicTerm(2 * BOND.k, 1.45)},
                              "angle": {"A-B-A": HarmonicTerm(0.5 * ANGLE.k, ANGLE.x0)}})
# the network is decayed to nothing, so the prior alone must carry the forces
TRAIN = FFTrainSettings(epochs=12, batch_size=25, energy_weight=0.0, weight_decay=20.0,
                        checkpoint_every=0, ema_decay=0.0,
                        schedule=ScheduleSettings(lr=0.05, warmup_steps=5, final_lr_ratio=0.05))


def _frames(n: int, seed: int) -> FrameSet:
    """Bond lengths and angles drawn from the true terms' Gaussians; forces of the true
    prior."""
    rng = np.random.default_rng(seed)
    r = rng.normal(BOND.x0, np.sqrt(KT / BOND.k), (n, 2))
    theta = rng.normal(ANGLE.x0, np.sqrt(KT / ANGLE.k), n)
    x = np.zeros((n, 3, 3))
    x[:, 0, 0] = -r[:, 0]
    x[:, 2, 0] = -r[:, 1] * np.cos(theta)
    x[:, 2, 1] = r[:, 1] * np.sin(theta)
    energy, forces = prior_energy_and_forces(TRUE, x)
    return FrameSet(numbers=[np.full(3, 6)] * n, positions=list(x), energy=energy,
                    forces=list(forces))


def test_the_trainable_variables_rebuild_the_priors():
    priors = Priors(TOPOLOGY, KT, {**TRUE.terms, "pair": {}})
    raw = prior_parameters(TRUE)
    assert raw["bond"]["A-B"]["log_k"] == pytest.approx(np.log(BOND.k))
    rebuilt = with_parameters(priors, raw)
    assert float(rebuilt.terms["bond"]["A-B"].k) == pytest.approx(BOND.k)
    repulsion = Priors(chain(4), KT, {"pair": {"bead-bead": RepulsionTerm(KT, 3.0, 12)}})
    assert prior_parameters(repulsion) == {"pair": {"bead-bead": {"log_sigma": np.log(3.0)}}}


def test_training_the_priors_recovers_the_true_force_constants(tmp_path):
    train, val = _frames(200, 0), _frames(50, 1)
    model_cfg = CGnetSettings(width=4, depth=1)
    _, result, refined = train_delta(model_cfg, TRAIN, train, val, WRONG, tmp_path / "ck",
                                     log=lambda _: None, train_priors=True)
    bond, angle = refined.terms["bond"]["A-B"], refined.terms["angle"]["A-B-A"]
    assert 0 < bond.k == pytest.approx(BOND.k, rel=0.03)
    assert 0 < angle.k == pytest.approx(ANGLE.k, rel=0.03)
    assert bond.x0 == pytest.approx(BOND.x0, abs=0.005)
    assert angle.x0 == pytest.approx(ANGLE.x0, abs=0.01)
    # plain Python numbers, ready for the prior files
    assert isinstance(bond.k, float) and isinstance(angle.x0, float)
    # the network's parameters alone come back, for the delta model's file
    assert set(result.params) == {"net", "stats"} and "prior" not in result.params["net"]
    # without the option the fitted priors are kept as they are
    _, _, kept = train_delta(model_cfg, TRAIN.model_copy(update={"epochs": 1}), train, val,
                             WRONG, tmp_path / "plain", log=lambda _: None)
    assert kept is WRONG


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> dict[str, Path]:
    """The steps on the three-bead frames: identity mapping, the wrong priors given as the
    user's file, a delta model trained for three epochs with the priors refined and a
    checkpoint after each epoch."""
    root = tmp_path_factory.mktemp("trained")
    frames = _frames(120, 2)
    write_frames(root / "atoms.parquet", frames)
    write_splits(root / "splits.json", {"train": np.arange(80), "val": np.arange(80, 100),
                                        "test": np.arange(100, 120)})
    cg_map(root / "atoms.parquet", MappingSettings(types=("A", "B", "A")),
           root / "frames.parquet", root / "beads.json")
    save_priors(root / "wrong.yaml", WRONG)
    paths = {"frames": root / "frames.parquet", "splits": root / "splits.json"}
    cg_fit_priors(paths["frames"], root / "beads.json", paths["splits"],
                  PriorFitSettings(terms=("bond", "angle")), 300.0, dataset="three",
                  out_priors=root / "priors.npz", out_readable=root / "priors.yaml",
                  out_summary=root / "fit.json",
                  out_plots={k: root / f"fit_{k}.svg" for k in KINDS},
                  priors_file=root / "wrong.yaml")
    delta = DeltaSettings(model=CGnetSettings(width=4, depth=1), train=TRAIN.model_copy(
        update={"epochs": 3, "checkpoint_every": 1, "weight_decay": 0.0}))
    cg_train_delta(paths["frames"], paths["splits"], root / "priors.npz", delta,
                   root / "checkpoints", out_model=root / "delta" / "model.npz",
                   out_history_csv=root / "history.csv",
                   out_history_parquet=root / "history.parquet", out_info=root / "info.json",
                   out_priors=root / "delta" / "priors.npz",
                   out_priors_readable=root / "delta" / "priors.yaml", train_priors=True)
    return {**paths, "root": root, "priors": root / "priors.npz",
            "delta": root / "delta" / "model.npz", "full_priors": root / "delta" / "priors.npz",
            "checkpoints": root / "checkpoints"}


def _evaluate(paths: dict[str, Path], out: Path, **kwargs) -> dict[str, dict[str, float]]:
    out.mkdir()
    return cg_evaluate_modes(paths["frames"], paths["splits"], paths["priors"],
                             ("full", "prior-only", "ml-only"), dataset="three",
                             out_metrics=out / "metrics.json", out_table=out / "modes.csv",
                             out_parity=out / "parity.svg", delta=paths["delta"],
                             full_priors=paths["full_priors"], checkpoints=paths["checkpoints"],
                             priors_trained=True, **kwargs)


def test_the_refined_priors_serve_the_full_model_and_the_fitted_ones_prior_only(trained,
                                                                                 tmp_path):
    info = json.loads((trained["root"] / "info.json").read_text())
    assert info["priors_trained"] is True
    assert any(line.startswith("bond A-B: k 40 -> ") for line in info["refined_priors"])
    refined = load_priors(trained["full_priors"])
    fitted = load_priors(trained["priors"])
    assert fitted.terms["bond"]["A-B"].k == pytest.approx(2 * BOND.k)
    # three epochs at lr 0.05 move k from twice the true value towards it
    assert BOND.k < refined.terms["bond"]["A-B"].k < 0.9 * 2 * BOND.k
    metrics = _evaluate(trained, tmp_path / "final")
    test = split_frames(trained["frames"], trained["splits"], "test")[0]
    model, params = load_model(trained["delta"].parent)
    expected = mode_metrics(mode_predictions(fitted, model, params, test, full_priors=refined),
                            test)
    for mode in ("full", "prior-only", "ml-only"):
        assert metrics[mode]["force_mae"] == pytest.approx(expected[mode]["force_mae"])
    record = read_metrics(tmp_path / "final" / "metrics.json")
    assert record.summary["priors_trained"] is True
    assert record.summary["delta_checkpoint"] == "final"


def test_a_training_checkpoint_is_evaluated_as_a_model(trained, tmp_path):
    metrics = _evaluate(trained, tmp_path / "epoch1", checkpoint="epoch_0001")
    # the same numbers as the checkpoint's EMA weights and refined priors loaded by hand
    fitted = load_priors(trained["priors"])
    model, final = load_model(trained["delta"].parent)
    _, state = CheckpointManager(trained["checkpoints"]).load("epoch_0001")
    ema = state["ema"]
    params = {"net": jax.tree.map(jnp.asarray, ema["delta"]), "stats": final["stats"]}
    by_hand = with_parameters(fitted, jax.tree.map(np.asarray, ema["prior"]))
    test = split_frames(trained["frames"], trained["splits"], "test")[0]
    expected = mode_metrics(mode_predictions(fitted, model, params, test, full_priors=by_hand),
                            test)
    for mode in ("full", "prior-only", "ml-only"):
        assert metrics[mode]["force_mae"] == pytest.approx(expected[mode]["force_mae"],
                                                           rel=1e-5)
    # and not those of the final model (epoch 3)
    final_metrics = _evaluate(trained, tmp_path / "final")
    assert metrics["full"]["force_mae"] != pytest.approx(final_metrics["full"]["force_mae"],
                                                         rel=1e-3)
    assert metrics["prior-only"] == final_metrics["prior-only"]
    record = read_metrics(tmp_path / "epoch1" / "metrics.json")
    assert record.summary["delta_checkpoint"] == "epoch_0001"
    with pytest.raises(ConfigError, match=r"no checkpoint 'epoch_0040'.*found \['best', "
                       r"'epoch_0001', 'epoch_0002', 'epoch_0003', 'latest'\]"):
        _evaluate(trained, tmp_path / "missing", checkpoint="epoch_0040")


def test_the_simulation_runs_the_checkpoint_with_its_refined_priors(trained, tmp_path):
    settings = SimulationSettings(steps=20, stride=10, starts=2, bins=5, temperature=300.0,
                                  seed=0, fes=("bond_0", "angle_0"))
    outputs = {f"out_{name}": tmp_path / f"sim_{name}.{suffix}" for name, suffix in
               (("summary", "json"), ("table", "csv"), ("distributions", "svg"),
                ("fes", "svg"), ("trajectory", "npz"))}
    summary = cg_simulate(trained["frames"], trained["splits"], trained["priors"], settings,
                          ("full", "prior-only"), delta=trained["delta"],
                          full_priors=trained["full_priors"], checkpoint="epoch_0002",
                          checkpoints=trained["checkpoints"], **outputs)
    assert summary["delta_checkpoint"] == "epoch_0002"
    assert summary["stability"]["stable"] and summary["prior_only"]["stability"]["stable"]


def test_the_options_need_a_delta_model():
    with pytest.raises(ValidationError, match="priors.train"):
        CGSettings.model_validate({"delta": None, "priors": {"train": True}})
    with pytest.raises(ValidationError, match="evaluate.checkpoint"):
        CGSettings.model_validate({"delta": None, "evaluate": {"checkpoint": "best"}})
    with pytest.raises(ValidationError, match="pattern"):
        CGSettings.model_validate({"evaluate": {"checkpoint": "../best"}})
