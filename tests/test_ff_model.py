"""Force-field models: neighbour lists, forces = -dE/dR, symmetries, shifts, save/load."""

from __future__ import annotations

import itertools

import jax
import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from distillery.data.frames import FrameSet
from distillery.errors import InputError
from distillery.forcefield.teachers import frame_atoms
from distillery.potentials.calculator import ModelCalculator
from distillery.potentials.inference import bound_predictor
from distillery.potentials.model import ForceField, fit_stats, load_model, save_model
from distillery.potentials.neighbours import build_buckets, neighbour_list, padded_edges, take_batch
from tests.ff_toy import morse, toy_frames
from tests.pickles import malicious_pickle

ARCHS = [
    {"kind": "painn", "features": 8, "n_layers": 2, "n_rbf": 6, "cutoff": 4.0},
    {"kind": "schnet", "features": 8, "n_layers": 2, "n_rbf": 6, "cutoff": 4.0},
]


def brute_force_distances(positions, cell, cutoff, images=3):
    out = []
    for shift in itertools.product(range(-images, images + 1), repeat=3):
        offset = np.array(shift) @ cell
        for i, j in itertools.product(range(len(positions)), repeat=2):
            if i == j and not any(shift):
                continue
            d = np.linalg.norm(positions[j] - positions[i] + offset)
            if d < cutoff:
                out.append(d)
    return np.sort(out)


def test_neighbour_list_covers_several_periodic_images() -> None:
    rng = np.random.default_rng(0)
    cell = np.array([[3.0, 0.0, 0.0], [0.5, 3.2, 0.0], [0.0, 0.3, 2.9]])
    positions = rng.random((4, 3)) @ cell
    nb = neighbour_list(positions, 4.0, cell, np.ones(3, bool))  # cutoff > cell lengths
    vec = positions[nb.senders] - positions[nb.receivers] + nb.shifts @ cell
    np.testing.assert_allclose(np.sort(np.linalg.norm(vec, axis=1)),
                               brute_force_distances(positions, cell, 4.0), atol=1e-12)


def test_toy_reference_forces_match_finite_differences() -> None:
    frames = toy_frames(1, seed=3)
    pos, cell, pbc = frames.positions[0], frames.cell[0], frames.pbc[0]
    _, forces = morse(pos, cell, pbc)
    h = 1e-6
    for atom, axis in [(0, 0), (3, 2)]:
        plus, minus = pos.copy(), pos.copy()
        plus[atom, axis] += h
        minus[atom, axis] -= h
        fd = -(morse(plus, cell, pbc)[0] - morse(minus, cell, pbc)[0]) / (2 * h)
        assert forces[atom, axis] == pytest.approx(fd, abs=1e-6)


def _params64(model, frames, seed=0):
    stats = fit_stats(frames, frames.energy, frames.forces, model.max_z)
    params = {"net": model.init(seed), "stats": stats}
    return jax.tree.map(lambda x: np.asarray(x, np.float64), params)


_JITTED = {}


def _energy_forces(model, params, positions, numbers, cell, pbc):
    """Energy and forces of one frame, with a fresh neighbour list (padded: one compile)."""
    frame = FrameSet([numbers], [positions], cell=None if cell is None else cell[None],
                     pbc=None if pbc is None else pbc[None])
    bucket = build_buckets(frame, model.cutoff, edge_multiple=512)[0]
    key = (id(model), jax.config.jax_enable_x64)
    fn = _JITTED.setdefault(key, jax.jit(model.predict_batch))
    e, f = fn(params, take_batch(bucket, np.arange(1), 1))
    return float(e[0]), np.asarray(f[0, :len(numbers)])


@pytest.mark.parametrize("arch", ARCHS, ids=lambda a: a["kind"])
def test_forces_are_minus_energy_gradient_by_finite_differences(arch) -> None:
    frames = toy_frames(2, seed=1)
    model = ForceField(arch)
    with jax.enable_x64(True):
        params = _params64(model, frames)
        pos, z, cell, pbc = frames.positions[0], frames.numbers[0], frames.cell[0], frames.pbc[0]
        _, forces = _energy_forces(model, params, pos, z, cell, pbc)
        assert np.abs(forces).max() > 1e-3  # a non-trivial check
        h = 1e-5
        for atom, axis in [(0, 0), (2, 1), (5, 2), (7, 0)]:
            plus, minus = pos.copy(), pos.copy()
            plus[atom, axis] += h
            minus[atom, axis] -= h
            fd = -(_energy_forces(model, params, plus, z, cell, pbc)[0]
                   - _energy_forces(model, params, minus, z, cell, pbc)[0]) / (2 * h)
            assert forces[atom, axis] == pytest.approx(fd, rel=1e-6, abs=1e-8)


@pytest.mark.parametrize("arch", ARCHS, ids=lambda a: a["kind"])
def test_energy_invariant_and_forces_equivariant(arch) -> None:
    frames = toy_frames(1, seed=2)
    model = ForceField(arch)
    with jax.enable_x64(True):
        params = _params64(model, frames)
        pos, z, cell, pbc = frames.positions[0], frames.numbers[0], frames.cell[0], frames.pbc[0]
        e0, f0 = _energy_forces(model, params, pos, z, cell, pbc)
        rot = Rotation.from_euler("xyz", [0.3, -1.1, 2.0]).as_matrix()
        # rotating atoms and cell together (row vectors: r @ R^T)
        e_rot, f_rot = _energy_forces(model, params, pos @ rot.T, z, cell @ rot.T, pbc)
        assert e_rot == pytest.approx(e0, abs=1e-10)
        np.testing.assert_allclose(f_rot, f0 @ rot.T, atol=1e-10)
        e_tr, f_tr = _energy_forces(model, params, pos + np.array([0.7, -2.3, 5.1]), z, cell,
                                    pbc)
        assert e_tr == pytest.approx(e0, abs=1e-10)
        np.testing.assert_allclose(f_tr, f0, atol=1e-10)
        # swap two atoms of the same element
        same = np.flatnonzero(z == z[0])
        assert len(same) >= 2
        perm = np.arange(len(z))
        perm[[same[0], same[1]]] = perm[[same[1], same[0]]]
        e_perm, f_perm = _energy_forces(model, params, pos[perm], z[perm], cell, pbc)
        assert e_perm == pytest.approx(e0, abs=1e-10)
        np.testing.assert_allclose(f_perm, f0[perm], atol=1e-10)
        # an isolated cluster: rotation invariance without a cell
        e_c, f_c = _energy_forces(model, params, pos, z, None, None)
        e_cr, f_cr = _energy_forces(model, params, pos @ rot.T, z, None, None)
        assert e_cr == pytest.approx(e_c, abs=1e-10)
        np.testing.assert_allclose(f_cr, f_c @ rot.T, atol=1e-10)


def test_padding_does_not_change_predictions() -> None:
    frames = toy_frames(3, seed=4)
    model = ForceField(ARCHS[1])
    params = {"net": model.init(0), "stats": fit_stats(frames, frames.energy, frames.forces,
                                                      model.max_z)}
    bucket = build_buckets(frames, model.cutoff, atom_multiple=16, min_edges=512)[0]
    assert bucket.n_atoms == 16 and bucket.n_edges == 512
    energy, forces = jax.jit(model.predict_batch)(params, take_batch(bucket, np.arange(3), 5))
    for k in range(3):
        e, f = _energy_forces(model, params, frames.positions[k], frames.numbers[k],
                              frames.cell[k], frames.pbc[k])
        assert float(energy[k]) == pytest.approx(e, rel=1e-5)
        np.testing.assert_allclose(forces[k, :8], f, atol=1e-5)
    np.testing.assert_array_equal(forces[:, 8:], 0.0)
    np.testing.assert_array_equal(energy[3:], 0.0)


def test_bound_predictor_and_batches_of_one_predict_as_the_batched_model() -> None:
    frames = toy_frames(3, seed=5)
    model = ForceField(ARCHS[1])
    params = {"net": model.init(1), "stats": fit_stats(frames, frames.energy, frames.forces,
                                                      model.max_z)}
    batch = take_batch(build_buckets(frames, model.cutoff)[0], np.arange(3), 4)
    energy, forces = bound_predictor(model, params)(batch)
    expected_energy, expected_forces = jax.jit(model.predict_batch)(params, batch)
    np.testing.assert_allclose(energy, expected_energy, rtol=1e-6)
    np.testing.assert_allclose(forces, expected_forces, rtol=1e-5, atol=1e-6)
    assert np.abs(np.asarray(forces)[:3]).max() > 1e-3  # real forces, not padding
    # a batch of one structure takes the path without vmap: the same numbers
    one_energy, one_forces = bound_predictor(model, params)(take_batch(
        build_buckets(frames, model.cutoff)[0], np.arange(1), 1))
    np.testing.assert_allclose(one_energy, energy[:1], rtol=1e-6)
    np.testing.assert_allclose(one_forces, forces[:1], rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize(("n", "multiple", "padded"), [
    (1, 256, 16), (64, 256, 64), (65, 256, 96), (72, 512, 96), (300, 256, 384),
    (1000, 256, 1024), (4000, 256, 4096), (4097, 256, 4352), (4001, 64, 4032)])
def test_edges_are_padded_by_at_most_a_quarter_power_of_two_or_the_multiple(n, multiple,
                                                                            padded) -> None:
    assert padded_edges(n, multiple) == padded


def test_md_calculator_pads_to_the_largest_edge_count_seen() -> None:
    frames = toy_frames(1, seed=4)
    model = ForceField(ARCHS[1])
    params = {"net": model.init(0), "stats": fit_stats(frames, frames.energy, frames.forces,
                                                      model.max_z)}
    atoms = frame_atoms(frames, 0)
    calc = ModelCalculator(model, params)
    atoms.calc = calc
    e_wide = atoms.get_potential_energy()
    wide = calc.n_edges
    assert wide == padded_edges(len(neighbour_list(atoms.positions, model.cutoff + calc.skin,
                                                   atoms.cell, atoms.pbc).senders), 512)
    atoms.set_cell(atoms.cell * 1.3, scale_atoms=True)  # fewer neighbours: the shape stays
    atoms.get_potential_energy()
    assert calc.n_edges == wide
    atoms.set_cell(atoms.cell / 1.3, scale_atoms=True)
    assert atoms.get_potential_energy() == pytest.approx(e_wide, rel=1e-6)


def test_energy_shifts_recover_per_element_energies() -> None:
    rng = np.random.default_rng(5)
    frames = toy_frames(6, seed=5)
    frames.energy = np.array([np.sum(np.where(z == 29, -3.5, -1.25)) for z in frames.numbers])
    frames.energy += rng.normal(scale=1e-9, size=len(frames))
    stats = fit_stats(frames, frames.energy, frames.forces, 100)
    assert stats["shift"][29] == pytest.approx(-3.5, abs=1e-6)
    assert stats["shift"][79] == pytest.approx(-1.25, abs=1e-6)
    rms = np.sqrt(np.mean(np.concatenate(frames.forces) ** 2))
    assert float(stats["scale"]) == pytest.approx(rms)


def test_save_and_load_round_trip(tmp_path) -> None:
    frames = toy_frames(2)
    model = ForceField(ARCHS[0])
    params = {"net": model.init(1), "stats": fit_stats(frames, frames.energy, frames.forces,
                                                      model.max_z)}
    save_model(tmp_path, model, params, meta={"role": "teacher"})
    loaded, loaded_params = load_model(tmp_path)
    assert loaded.config == model.config
    e0 = _energy_forces(model, params, frames.positions[0], frames.numbers[0], frames.cell[0],
                        frames.pbc[0])[0]
    e1 = _energy_forces(loaded, loaded_params, frames.positions[0], frames.numbers[0],
                        frames.cell[0], frames.pbc[0])[0]
    assert e0 == e1
    assert (tmp_path / "model.yaml").read_text().count("n_parameters") == 1


def test_round_trip_keeps_structure_dtypes_and_predictions_bit_identical(tmp_path) -> None:
    frames = toy_frames(2)
    model = ForceField(ARCHS[1])
    params = {"net": model.init(2), "stats": jax.tree.map(
        jax.numpy.asarray, fit_stats(frames, frames.energy, frames.forces, model.max_z))}
    save_model(tmp_path, model, params)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.npz", "model.yaml"]
    with np.load(tmp_path / "model.npz", allow_pickle=False) as stored:
        assert {"stats/shift", "stats/scale"} < set(stored.files)
        assert all(key.startswith(("net/params/", "stats/")) for key in stored.files)
    loaded, loaded_params = load_model(tmp_path)
    assert jax.tree.structure(loaded_params) == jax.tree.structure(params)
    for a, b in zip(jax.tree.leaves(params), jax.tree.leaves(loaded_params), strict=True):
        assert np.asarray(a).dtype == b.dtype and np.array_equal(a, b)
    bucket = build_buckets(frames, model.cutoff)[0]
    batch = take_batch(bucket, np.arange(2), 2)
    e0, f0 = jax.jit(model.predict_batch)(params, batch)
    e1, f1 = jax.jit(loaded.predict_batch)(loaded_params, batch)
    assert np.array_equal(e0, e1) and np.array_equal(f0, f1)


def test_pickled_models_are_refused_without_running_them(tmp_path) -> None:
    marker = tmp_path / "ran"
    model = ForceField(ARCHS[1])
    params = {"net": model.init(0), "stats": {"shift": np.zeros(model.max_z + 1),
                                              "scale": np.asarray(1.0)}}
    save_model(tmp_path / "m", model, params)
    (tmp_path / "m" / "model.npz").write_bytes(malicious_pickle(marker))
    with pytest.raises(InputError, match=r"m/model\.npz: file: found a pickle file, expected "
                                         r".*fix: retrain the model"):
        load_model(tmp_path / "m")
    # a directory from before model.npz: the legacy model.pkl alone
    (tmp_path / "old").mkdir()
    (tmp_path / "old" / "model.pkl").write_bytes(malicious_pickle(marker))
    with pytest.raises(InputError, match=r"old/model\.pkl: file: found a pickle file"):
        load_model(tmp_path / "old")
    assert not marker.exists()


def test_model_files_that_do_not_fit_together_are_input_errors(tmp_path) -> None:
    model = ForceField(ARCHS[1])
    params = {"net": model.init(0), "stats": {"shift": np.zeros(model.max_z + 1),
                                              "scale": np.asarray(1.0)}}
    save_model(tmp_path, model, params)
    arrays = dict(np.load(tmp_path / "model.npz"))
    # the description of a larger model beside these parameters
    (tmp_path / "model.yaml").write_text((tmp_path / "model.yaml").read_text()
                                         .replace("features: 8", "features: 16"))
    with pytest.raises(InputError, match=r"model\.npz: arrays/net/.*found shape"):
        load_model(tmp_path)
    save_model(tmp_path, model, params)
    np.savez(tmp_path / "model.npz", **{k: v for k, v in arrays.items() if k != "stats/scale"})
    with pytest.raises(InputError, match=r"model\.npz: arrays: found .*missing \['stats/scale'\]"):
        load_model(tmp_path)
    (tmp_path / "model.yaml").write_text("config: [unclosed\n")
    with pytest.raises(InputError, match=r"model\.yaml: config: found no usable model"):
        load_model(tmp_path)
