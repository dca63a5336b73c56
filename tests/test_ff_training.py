"""Training loop: exact resume, gradient accumulation, overfitting, HVP targets, distillation."""

from __future__ import annotations

import jax
import numpy as np
import pytest

from distillery.forcefield.labelling import (
    DISPLACED,
    ORIGINAL,
    TEACHER_MD,
    gather_chunks,
    label_chunk,
    mixed_labels,
    sample_distill_frames,
)
from distillery.forcefield.settings import DistillSettings
from distillery.forcefield.teachers import CalculatorTeacher, JaxTeacher
from distillery.metrics.regression import force_metrics
from distillery.potentials.inference import predict
from distillery.potentials.model import ForceField, fit_stats
from distillery.potentials.neighbours import build_buckets, take_batch
from distillery.train.checkpoint import CheckpointManager
from distillery.train.hvp import force_jvp, hvp_targets
from distillery.train.potential_loop import (
    Labels,
    LossFunctions,
    batch_norms,
    epoch_budget,
    fit,
    train_config,
)
from tests.ff_toy import MorseCalculator, toy_frames

TINY = {"kind": "schnet", "features": 8, "n_layers": 1, "n_rbf": 4, "cutoff": 3.5}


def _run(tmp_path, epochs, frames):
    cfg = {"epochs": epochs, "batch_size": 4, "checkpoint_every": 1, "progress_interval": 1e9,
           "schedule": {"kind": "cosine", "lr": 5e-3, "warmup_steps": 2, "decay_steps": 20}}
    return fit(ForceField(TINY), frames.subset(range(8)), frames.subset(range(8, 10)), cfg,
               tmp_path, log=lambda _: None)


def test_resume_from_mid_run_checkpoint_is_bit_identical(tmp_path) -> None:
    frames = toy_frames(10, seed=0)
    straight = _run(tmp_path / "straight", 4, frames)
    _run(tmp_path / "resumed", 2, frames)  # "interrupted" after epoch 2
    resumed = _run(tmp_path / "resumed", 4, frames)
    a = CheckpointManager(tmp_path / "straight").load_latest()
    b = CheckpointManager(tmp_path / "resumed").load_latest()
    assert a[0] == b[0] == 4 and a[1]["step"] == b[1]["step"] == 8
    for key in ("net", "opt_state", "ema"):
        for x, y in zip(jax.tree.leaves(a[1][key]), jax.tree.leaves(b[1][key]), strict=True):
            np.testing.assert_array_equal(x, y)
    for x, y in zip(jax.tree.leaves(straight.params), jax.tree.leaves(resumed.params),
                    strict=True):
        np.testing.assert_array_equal(x, y)
    assert [r["train_loss"] for r in straight.history] == [r["train_loss"]
                                                          for r in resumed.history]


@pytest.mark.parametrize(("epochs", "steps_per_epoch", "min_steps", "budget"), [
    (50, 60, None, 50),   # no step budget: the configured epochs
    (50, 60, 3800, 64),   # md's baseline: 3800 student steps / 60 -> 63.3, rounded up
    (50, 25, 1710, 69),   # mol's: 1710 / 25 -> 68.4
    (50, 7, 14, 2),       # a whole number of epochs
    (50, 9, 1, 1),        # at least one epoch
])
def test_a_step_budget_becomes_the_fewest_whole_epochs_that_reach_it(
        epochs, steps_per_epoch, min_steps, budget) -> None:
    assert epoch_budget(epochs, steps_per_epoch, min_steps) == budget


def test_a_step_budget_sets_the_epochs_and_early_stopping_may_end_them(tmp_path) -> None:
    """8 frames in batches of 4: 2 steps per epoch, so 5 steps take 3 epochs (6 steps); with
    an improvement threshold nothing meets, patience 1 ends the run after epoch 2 of 10."""
    frames = toy_frames(10, seed=0)
    train, val = frames.subset(range(8)), frames.subset(range(8, 10))
    cfg = {"epochs": 1, "batch_size": 4, "checkpoint_every": 0, "progress_interval": 1e9}
    full = fit(ForceField(TINY), train, val, cfg, tmp_path / "full", log=lambda _: None,
               min_steps=5)
    assert {k: full.info[k] for k in ("steps_per_epoch", "epochs", "epochs_run", "final_step",
                                      "stopped_early")} == {
        "steps_per_epoch": 2, "epochs": 3, "epochs_run": 3, "final_step": 6,
        "stopped_early": False}
    stopping = {**cfg, "patience": 1, "min_delta": 1e9}
    stopped = fit(ForceField(TINY), train, val, stopping, tmp_path / "stopped",
                  log=lambda _: None, min_steps=20)
    assert {k: stopped.info[k] for k in ("epochs", "epochs_run", "best_epoch", "final_step",
                                         "stopped_early")} == {
        "epochs": 10, "epochs_run": 2, "best_epoch": 1, "final_step": 4, "stopped_early": True}


def test_gradient_accumulation_equals_one_larger_batch() -> None:
    frames = toy_frames(6, seed=1)
    model = ForceField(TINY)
    with jax.enable_x64(True):
        stats = fit_stats(frames, frames.energy, frames.forces, model.max_z)
        net = jax.tree.map(lambda x: np.asarray(x, np.float64), model.init(0))
        fns = LossFunctions(model, train_config({}))
        bucket = build_buckets(frames, model.cutoff)[0]
        big = take_batch(bucket, np.arange(6), 6)
        parts = [take_batch(bucket, np.arange(k, k + 2), 2) for k in (0, 2, 4)]
        g_big, _ = fns.grad(net, stats, big, batch_norms([big]))
        norms = batch_norms(parts)
        g_acc = None
        for part in parts:
            g, _ = fns.grad(net, stats, part, norms)
            g_acc = g if g_acc is None else fns.add(g_acc, g)
        for x, y in zip(jax.tree.leaves(g_big), jax.tree.leaves(g_acc), strict=True):
            np.testing.assert_allclose(x, y, rtol=1e-10, atol=1e-14)
        assert max(float(np.abs(x).max()) for x in jax.tree.leaves(g_big)) > 0


def test_tiny_model_overfits_tiny_set(tmp_path) -> None:
    frames = toy_frames(4, seed=2)
    cfg = {"epochs": 150, "batch_size": 4, "checkpoint_every": 0, "ema_decay": 0.0,
           "progress_interval": 1e9, "schedule": {"kind": "constant", "lr": 1e-2}}
    result = fit(ForceField({**TINY, "features": 16}), frames, frames.subset([]), cfg,
                 tmp_path, log=lambda _: None)
    losses = [r["train_loss"] for r in result.history]
    assert losses[-1] < losses[0] / 10


def test_force_jvp_is_the_derivative_of_forces_along_the_direction() -> None:
    frames = toy_frames(2, seed=3)
    model = ForceField(TINY)
    with jax.enable_x64(True):
        params = jax.tree.map(lambda x: np.asarray(x, np.float64), {
            "net": model.init(1),
            "stats": fit_stats(frames, frames.energy, frames.forces, model.max_z)})
        directions, targets = hvp_targets(model, params, frames, seed=0, batch_size=2)
        h = 1e-5
        shifted = [frames.subset([0]), frames.subset([0])]
        shifted[0].positions = [frames.positions[0] + h * directions[0]]
        shifted[1].positions = [frames.positions[0] - h * directions[0]]
        f_plus, f_minus = (predict(model, params, s)[1][0] for s in shifted)
        np.testing.assert_allclose(targets[0], (f_plus - f_minus) / (2 * h), rtol=1e-5,
                                   atol=1e-7)
        bucket = build_buckets(frames, model.cutoff, extras={"hvp_dir": directions})[0]
        direct = force_jvp(model, params, take_batch(bucket, np.arange(2), 2))
        np.testing.assert_allclose(np.asarray(direct[1, :8]), targets[1], rtol=1e-10)


def test_distill_set_is_labelled_by_the_teacher_and_mixes_labels() -> None:
    train = toy_frames(3, seed=4)
    teacher = ForceField(TINY)
    params = {"net": teacher.init(2),
              "stats": fit_stats(train, train.energy, train.forces, teacher.max_z)}
    cfg = DistillSettings(displace={"copies": 2, "sigma": 0.05},
                          md={"starts": 1, "steps": 4, "every": 2, "temperature": 300,
                              "timestep_fs": 1.0})
    quiet = lambda _: None  # noqa: E731
    sampled = sample_distill_frames(train, JaxTeacher(teacher, params), cfg, seed=0, log=quiet)
    chunks = [label_chunk(sampled, JaxTeacher(teacher, params), k, 2, False, 0, quiet)
              for k in (1, 0)]  # gathered in any order
    distilled, directions, _ = gather_chunks(sampled, chunks)
    assert directions.shape == (0, 3)
    kinds = distilled.extras["augmentation"]
    assert list(np.bincount(kinds)) == [3, 6, 2]
    assert list(distilled.extras["source_frame"][kinds == DISPLACED]) == [0, 0, 1, 1, 2, 2]
    displaced = np.flatnonzero(kinds == DISPLACED)[0]
    step = distilled.positions[displaced] - train.positions[0]
    assert 0.02 < np.std(step) < 0.1
    assert np.any(kinds == TEACHER_MD)
    energy, forces = predict(teacher, params, distilled)
    np.testing.assert_allclose(distilled.energy, energy)
    labels = mixed_labels(distilled, train, teacher_weight=0.25)
    k = np.flatnonzero(kinds == ORIGINAL)[1]
    assert labels.energy[k] == pytest.approx(0.25 * energy[k] + 0.75 * train.energy[1])
    np.testing.assert_allclose(labels.forces[k], 0.25 * forces[k] + 0.75 * train.forces[1])
    np.testing.assert_allclose(labels.forces[displaced], forces[displaced])


def test_a_student_distilled_from_an_analytic_teacher_beats_its_baseline(tmp_path) -> None:
    """The force-field claim on a known answer. The teacher is the Morse potential that labels
    the reference, and the reference is scarce: four frames close to the lattice. The baseline
    learns from those; the student from them plus displaced copies the teacher labels. Both
    take the same optimizer steps. On frames displaced as far as the copies, which the
    baseline never sees, the student's forces are much closer to the truth."""
    quiet = lambda _: None  # noqa: E731
    reference = toy_frames(4, seed=10, noise=0.02)
    cfg = DistillSettings(displace={"copies": 3, "sigma": 0.2}, md={"starts": 0})
    sampled = sample_distill_frames(reference, None, cfg, seed=0, log=quiet)
    teacher = CalculatorTeacher(MorseCalculator(), "morse")
    distilled, _, _ = gather_chunks(sampled, [label_chunk(sampled, teacher, 0, 1, False, 0,
                                                          quiet)])
    test = toy_frames(16, seed=11, noise=0.2)

    def force_mae(frames, epochs: int, name: str, labels=None) -> float:
        train = {"epochs": epochs, "batch_size": 4, "checkpoint_every": 0,
                 "progress_interval": 1e9,
                 "schedule": {"kind": "cosine", "lr": 2e-2, "warmup_steps": 2}}
        model = ForceField(TINY)
        result = fit(model, frames, frames.subset([]), train, tmp_path / name,
                     train_labels=labels, log=quiet)
        forces = np.concatenate(predict(model, result.params, test)[1])
        return force_metrics(forces, np.concatenate(test.forces))["force_mae"]

    student = force_mae(distilled, 3, "student", mixed_labels(distilled, reference, 1.0))
    baseline = force_mae(reference, 3 * len(distilled) // len(reference), "baseline")
    assert student < 0.75 * baseline


def test_auto_batch_size_grows_to_the_cap_when_memory_allows(tmp_path) -> None:
    frames = toy_frames(8, seed=5)
    cfg = {"epochs": 1, "batch_size": "auto", "max_batch_size": 6, "progress_interval": 1e9}
    result = fit(ForceField(TINY), frames, frames.subset([]), cfg, tmp_path, log=lambda _: None)
    assert result.info["batch_size"] == 6
    assert result.info["steps_per_epoch"] == 2


def test_hvp_loss_term_compares_student_and_target_products() -> None:
    frames = toy_frames(2, seed=6)
    model = ForceField(TINY)
    params = {"net": model.init(3),
              "stats": fit_stats(frames, frames.energy, frames.forces, model.max_z)}
    directions, targets = hvp_targets(model, params, frames, seed=1, batch_size=2)
    fns = LossFunctions(model, train_config({"hvp_weight": 1.0}))
    for target, expect_zero in ((targets, True), ([np.zeros_like(t) for t in targets], False)):
        bucket = build_buckets(frames, model.cutoff,
                               extras={"hvp_dir": directions, "hvp_target": target})[0]
        sums = fns.sums(params["net"], params["stats"], take_batch(bucket, np.arange(2), 2))
        expected = 0.0 if expect_zero else sum(float(np.sum(t**2)) for t in targets)
        assert float(sums["h_sq"]) == pytest.approx(expected, rel=1e-4, abs=1e-6)


@pytest.mark.parametrize("change", ["settings", "labels"])
def test_a_checkpoint_of_other_settings_or_labels_is_ignored(tmp_path, change) -> None:
    """A checkpoint written for another learning rate or other training labels is not resumed:
    the run starts afresh, says so, and ends as a fresh run does."""
    frames = toy_frames(10, seed=0)
    train, val = frames.subset(range(8)), frames.subset(range(8, 10))
    cfg = {"epochs": 2, "batch_size": 4, "checkpoint_every": 1, "progress_interval": 1e9}
    other = {**cfg, "schedule": {"lr": 1e-2}} if change == "settings" else cfg
    labels = Labels(train.energy + (1.0 if change == "labels" else 0.0), train.forces)
    fit(ForceField(TINY), train, val, other, tmp_path / "run", log=lambda _: None,
        train_labels=labels)
    lines: list[str] = []
    resumed = fit(ForceField(TINY), train, val, cfg, tmp_path / "run", log=lines.append)
    fresh = fit(ForceField(TINY), train, val, cfg, tmp_path / "fresh", log=lambda _: None)
    assert any(line.startswith("ignoring checkpoints") for line in lines), lines
    assert not any("resuming" in line for line in lines)
    for x, y in zip(jax.tree.leaves(resumed.params), jax.tree.leaves(fresh.params), strict=True):
        np.testing.assert_array_equal(x, y)
