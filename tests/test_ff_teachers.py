"""Teachers from anywhere: ASE calculators by import path, exports, and trained models label
the same frames alike; finite-difference HVPs match autodiff; chunked labels gather exactly."""

from __future__ import annotations

import numpy as np
import pytest
from ase.calculators.emt import EMT

from distillery.data.frames import FrameSet
from distillery.data.generate.md_crystal import crystal
from distillery.errors import ConfigError
from distillery.forcefield.evaluation import agreement, calculator_speed, label_metrics
from distillery.forcefield.labelling import (
    chunk_rows,
    gather_chunks,
    label_chunk,
    sample_distill_frames,
)
from distillery.forcefield.settings import DistillSettings, TeacherSettings
from distillery.forcefield.teachers import (
    CalculatorTeacher,
    JaxTeacher,
    frame_atoms,
    load_teacher,
)
from distillery.potentials.calculator import ModelCalculator
from distillery.potentials.model import ForceField, fit_stats
from distillery.settings import load_files
from tests.conftest import DEFAULT_CONFIG, VALIDATION_CONFIG
from tests.ff_toy import toy_frames

TINY = {"kind": "schnet", "features": 8, "n_layers": 1, "n_rbf": 4, "cutoff": 3.5}
QUIET = lambda _: None  # noqa: E731


def _jax_teacher(frames):
    model = ForceField(TINY)
    params = {"net": model.init(3), "stats": fit_stats(frames, frames.energy, frames.forces,
                                                       model.max_z)}
    return JaxTeacher(model, params)


def test_ase_teacher_by_import_path_labels_like_the_calculator_itself() -> None:
    frames = toy_frames(3, seed=1)
    frames.numbers = [np.full(len(z), 29) for z in frames.numbers]  # EMT knows Cu
    settings = TeacherSettings(model={"kind": "schnet"}, source="ase",
                               calculator="ase.calculators.emt:EMT", kwargs={})
    teacher = load_teacher(settings)
    assert not teacher.batched and teacher.name == "EMT"
    energy, forces = teacher.label(frames, QUIET)
    atoms = frame_atoms(frames, 2)
    atoms.calc = EMT()
    assert energy[2] == pytest.approx(atoms.get_potential_energy())
    np.testing.assert_allclose(forces[2], atoms.get_forces())
    calls = []
    original = teacher._calculator.calculate
    teacher._calculator.calculate = lambda *a, **k: (calls.append(1), original(*a, **k))
    calculator_speed(teacher.calculator(), frames.subset([0]), 0.0)
    assert len(calls) == 2  # warm-up and one timed pass: never answered from ASE's cache


def _check_minus_gradient(teacher, frames, forces) -> None:
    """Central difference of the teacher's energy along a random direction equals -F . v."""
    n = len(frames.numbers[0])
    v = np.random.default_rng(0).standard_normal((n, 3))
    h = 1e-3
    shifted = frames.subset([0, 0])
    shifted.positions = [frames.positions[0] + h * v, frames.positions[0] - h * v]
    e_plus, e_minus = teacher.label(shifted, QUIET)[0]
    assert (e_plus - e_minus) / (2 * h) == pytest.approx(-np.sum(forces[0] * v), rel=0.02,
                                                         abs=2e-3)


def test_validation_chgnet_teacher_labels_with_its_bundled_weights() -> None:
    """The foundation-model teacher of the validation mode's `si_chgnet`, as configured:
    CHGNet's own weights, energies in eV (not per atom) whose gradient is minus the forces."""
    settings = load_files([DEFAULT_CONFIG, VALIDATION_CONFIG]).forcefield("si_chgnet").teacher
    teacher = load_teacher(settings)
    assert not teacher.batched and teacher.name == "CHGNetCalculator"
    frames = toy_frames(2, seed=6, noise=0.1)  # 8-atom Cu/Au cells
    energy, forces = teacher.label(frames, QUIET)
    assert np.all(energy / frames.n_atoms < -2.0)  # eV per atom of a metal, not total / N
    for f in forces:
        assert f.shape == (8, 3) and np.abs(f).max() > 0.05
        np.testing.assert_allclose(f.sum(axis=0), 0.0, atol=2e-3)
    _check_minus_gradient(teacher, frames, forces)


def test_validation_sevennet_teacher_loads_its_shipped_weights() -> None:
    """SevenNet-0 as `si_sevennet` configures it: the weights inside the sevenn wheel (nothing
    downloaded), silicon near its DFT cohesive energy per atom, forces minus the gradient."""
    config = load_files([DEFAULT_CONFIG, VALIDATION_CONFIG])
    settings = config.forcefield("si_sevennet").teacher
    teacher = load_teacher(settings)
    assert not teacher.batched and teacher.name == "SevenNetCalculator"
    atoms = crystal(config.datasets["si_sevennet"].generate.model_copy(update={"repeat": 1}))
    rng = np.random.default_rng(3)
    frames = FrameSet(numbers=[atoms.numbers] * 2,
                      positions=[atoms.positions + rng.normal(scale=0.08, size=(8, 3))
                                 for _ in range(2)],
                      cell=np.repeat(atoms.cell.array[None], 2, 0),
                      pbc=np.repeat(atoms.pbc[None], 2, 0))
    energy, forces = teacher.label(frames, QUIET)
    assert np.all((energy / 8 > -5.6) & (energy / 8 < -5.1))  # MPtrj PBE silicon, eV/atom
    for f in forces:
        assert f.shape == (8, 3) and np.abs(f).max() > 0.05
        np.testing.assert_allclose(f.sum(axis=0), 0.0, atol=2e-3)
    _check_minus_gradient(teacher, frames, forces)


def test_bad_teacher_settings_fail_with_the_key_named() -> None:
    with pytest.raises(ValueError, match="teacher.calculator"):
        TeacherSettings(model={"kind": "schnet"}, source="ase")
    with pytest.raises(ValueError, match="teacher.export"):
        TeacherSettings(model={"kind": "schnet"}, source="export")
    settings = TeacherSettings(model={"kind": "schnet"}, source="ase",
                               calculator="ase.calculators.emt:NoSuchCalculator")
    with pytest.raises(ConfigError, match="forcefield.teacher.calculator"):
        load_teacher(settings)


def test_finite_difference_hvp_matches_autodiff() -> None:
    frames = toy_frames(2, seed=2)
    jax_teacher = _jax_teacher(frames)
    fd_teacher = CalculatorTeacher(ModelCalculator(jax_teacher.model, jax_teacher.params), "fd",
                                   fd_step=1e-3)
    directions, autodiff = jax_teacher.hvp(frames, seed=5)
    fd_directions, fd = fd_teacher.hvp(frames, seed=5)
    for k in range(len(frames)):
        np.testing.assert_allclose(fd_directions[k], directions[k])
        scale = np.abs(autodiff[k]).max()
        assert scale > 1e-4
        np.testing.assert_allclose(fd[k], autodiff[k], atol=2e-3 * scale)
    e_jax, f_jax = jax_teacher.label(frames, QUIET)
    e_fd, f_fd = fd_teacher.label(frames, QUIET)
    np.testing.assert_allclose(e_fd, e_jax, rtol=1e-5)
    np.testing.assert_allclose(f_fd[1], f_jax[1], atol=1e-5)


def test_chunked_labels_gather_to_the_unchunked_labels() -> None:
    frames = toy_frames(7, seed=3)
    teacher = _jax_teacher(frames)
    whole, _, _ = gather_chunks(frames, [label_chunk(frames, teacher, 0, 1, False, 0, QUIET)])
    parts = [label_chunk(frames, teacher, k, 3, True, 0, QUIET) for k in (2, 0, 1)]
    assert sorted(len(p["rows"]) for p in parts) == [2, 2, 3]
    chunked, directions, targets = gather_chunks(frames, parts)
    np.testing.assert_allclose(chunked.energy, whole.energy, rtol=1e-6)
    for a, b in zip(chunked.forces, whole.forces, strict=True):
        np.testing.assert_allclose(a, b, atol=1e-6)
    assert directions.shape == targets.shape == (frames.n_atoms.sum(), 3)
    # frame 0's HVP target is the one chunk 0 computed for it
    np.testing.assert_allclose(targets[:len(frames.numbers[0])],
                               parts[1]["hvp_target"][:len(frames.numbers[0])])
    with pytest.raises(ConfigError, match="rerun the ff_distill_label jobs"):
        gather_chunks(frames, parts[:2])
    with pytest.raises(ConfigError, match="expected 0..2"):
        chunk_rows(7, 3, 3)


def test_metrics_per_element_component_and_agreement() -> None:
    numbers = [np.array([1, 8]), np.array([1, 8])]
    ref = [np.zeros((2, 3)), np.zeros((2, 3))]
    pred = [np.array([[0.3, 0.0, 0.0], [0.0, 0.6, 0.0]])] * 2
    metrics = label_metrics(np.array([1.0, 2.0]), pred, np.array([1.0, 1.0]), ref, numbers)
    assert metrics["force_mae_H"] == pytest.approx(0.1)
    assert metrics["force_mae_O"] == pytest.approx(0.2)
    assert metrics["force_mae_x"] == pytest.approx(0.15)
    assert metrics["force_mae_y"] == pytest.approx(0.3)
    assert metrics["force_mae_z"] == 0.0
    assert metrics["energy_mae_per_atom"] == pytest.approx(0.25)
    agree = agreement(np.array([1.0, 2.0]), pred, np.array([1.0, 2.0]), pred, np.array([2, 2]))
    assert agree == {"force_mae_vs_teacher": 0.0, "force_r2_vs_teacher": 1.0,
                     "energy_mae_per_atom_vs_teacher": 0.0}
    # teacher components 0, 0.3, 0.6 (x4 each); the student off by 0.1 on each: R² = 1 - 0.01
    # / var, var = 0.06 about the mean 0.3
    teacher = [np.array([[0.0, 0.3, 0.6], [0.6, 0.3, 0.0]])] * 2
    student = [t + 0.1 for t in teacher]
    agree = agreement(np.zeros(2), student, np.zeros(2), teacher, np.array([2, 2]))
    assert agree["force_r2_vs_teacher"] == pytest.approx(1 - 0.01 / 0.06)
    assert agree["force_mae_vs_teacher"] == pytest.approx(0.1)


def test_sampling_without_teacher_md_needs_no_teacher() -> None:
    train = toy_frames(3, seed=6)
    cfg = DistillSettings(displace={"copies": 2, "sigma": 0.05}, md={"starts": 0})
    sampled = sample_distill_frames(train, None, cfg, seed=0, log=QUIET)
    assert len(sampled) == 9 and sampled.energy is None
    with pytest.raises(ConfigError, match="needs a teacher"):
        sample_distill_frames(train, None, DistillSettings(md={"starts": 1, "temperature": 300}),
                              seed=0, log=QUIET)
