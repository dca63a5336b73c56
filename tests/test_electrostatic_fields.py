"""Electrostatic labels by meaning and shape: every listed shape of mono/D/Q/esp, units,
ambiguity, zero-filled charges and the schema gate, through the NPZ and extended XYZ readers."""

from __future__ import annotations

import logging

import numpy as np
import pytest
from ase import Atoms, units
from ase.io import write

from distillery.data.extxyz import read_extxyz
from distillery.data.frames import read_frames, write_frames
from distillery.data.ingest import ingest
from distillery.data.npz import read_npz
from distillery.errors import InputError

RNG = np.random.default_rng(3)
N_FRAMES, N_GRID = 4, 7


def base(n_atoms: int = 4) -> dict[str, np.ndarray]:
    return {"R": RNG.normal(size=(N_FRAMES, n_atoms, 3)) * 2,
            "z": np.array([8, 6, 1, 1, 1, 1, 1, 1, 1][:n_atoms])}


def traceless(n: int) -> np.ndarray:
    m = RNG.normal(size=(n, 3, 3))
    m = m + m.transpose(0, 2, 1)
    return m - np.trace(m, axis1=1, axis2=2)[:, None, None] * np.eye(3) / 3


def read(tmp_path, arrays, units=None, fields=None):
    path = tmp_path / "raw.npz"
    np.savez(path, **arrays)
    return read_npz(path, units, fields)


@pytest.mark.parametrize(("shape", "column"), [((N_FRAMES,), "dipole_norm"),
                                               ((N_FRAMES, 3), "dipole"),
                                               ((N_FRAMES, 4, 3), "atomic_dipoles")])
def test_dipole_meaning_follows_its_shape(tmp_path, shape, column):
    d = RNG.normal(size=shape)
    fs = read(tmp_path, {**base(), "D": d, "mono": np.zeros((N_FRAMES, 4))})
    assert column in fs.extras and "D" not in fs.extras
    np.testing.assert_allclose(np.stack(list(fs.extras[column])), d)


def test_quadrupole_from_six_nine_and_three_by_three_agree(tmp_path):
    q = traceless(N_FRAMES)
    six = np.stack([q[:, 0, 0], q[:, 1, 1], q[:, 2, 2], q[:, 0, 1], q[:, 0, 2], q[:, 1, 2]], 1)
    for value in (six, q.reshape(N_FRAMES, 9), q):
        fs = read(tmp_path, {**base(), "Q": value, "mono": np.zeros((N_FRAMES, 4))})
        np.testing.assert_allclose(fs.extras["quadrupole"], q)


def test_q_of_one_value_per_frame_is_the_total_charge(tmp_path):
    fs = read(tmp_path, {**base(), "Q": np.array([0.0, 1.0, -1.0, 0.0]),
                         "mono": np.zeros((N_FRAMES, 4))})
    np.testing.assert_array_equal(fs.extras["total_charge"], [0.0, 1.0, -1.0, 0.0])


@pytest.mark.parametrize("n_atoms", [6, 9])
def test_q_with_as_many_values_as_atoms_is_ambiguous(tmp_path, n_atoms):
    width = n_atoms
    with pytest.raises(InputError, match=r"raw.npz: Q: .*quadrupole.*per-atom charges") as err:
        read(tmp_path, {**base(n_atoms), "Q": RNG.normal(size=(N_FRAMES, width))})
    assert "\n" not in str(err.value) and "fields" in str(err.value)


def test_fields_settle_an_ambiguous_key_by_its_meaning(tmp_path):
    charges = RNG.normal(size=(N_FRAMES, 6))
    fs = read(tmp_path, {**base(6), "Q": charges}, fields={"mono": "Q"})
    np.testing.assert_array_equal(np.stack(list(fs.extras["mono"])), charges)


def test_esp_on_per_frame_and_shared_grids_with_units(tmp_path):
    esp = RNG.normal(size=(N_FRAMES, N_GRID)) * 0.01
    grid = RNG.normal(size=(N_FRAMES, N_GRID, 3)) * 3
    arrays = {**base(), "esp": esp, "vdw_surface": grid, "D": np.ones((N_FRAMES, 3)),
              "mono": np.zeros((N_FRAMES, 4))}
    fs = read(tmp_path, arrays, {"esp": "Hartree/e", "dipole": "Debye", "length": "bohr"})
    np.testing.assert_allclose(fs.extras["esp"], esp * units.Hartree)
    np.testing.assert_allclose(fs.extras["esp_grid"], grid * units.Bohr)
    np.testing.assert_allclose(fs.extras["dipole"], units.Debye)
    shared = read(tmp_path, {**arrays, "vdw_surface": grid[0]}, {"esp": "kcal/mol/e"})
    np.testing.assert_allclose(shared.extras["esp_grid"], np.broadcast_to(grid[0], grid.shape))
    np.testing.assert_allclose(shared.extras["esp"], esp * units.kcal / units.mol)


def test_buckingham_quadrupole_converts_to_e_angstrom2(tmp_path):
    q = traceless(N_FRAMES)
    fs = read(tmp_path, {**base(), "quadrupole": q, "mono": np.zeros((N_FRAMES, 4))},
              {"quadrupole": "Buckingham"})
    np.testing.assert_allclose(fs.extras["quadrupole"], q * 0.20819434, rtol=1e-7)


def test_missing_mono_is_zero_filled_with_one_warning(tmp_path, caplog):
    with caplog.at_level(logging.WARNING):
        fs = read(tmp_path, {**base(), "D": np.ones((N_FRAMES, 3))})
    assert [r.getMessage() for r in caplog.records] == [
        f"{tmp_path / 'raw.npz'}: no per-atom charges (mono): filled with zeros"]
    assert all(np.array_equal(q, np.zeros(4)) for q in fs.extras["mono"])


@pytest.mark.parametrize(("extra", "message"), [
    ({"esp": np.zeros((N_FRAMES, N_GRID))}, "esp: found ESP values without grid points"),
    ({"vdw_surface": np.zeros((N_FRAMES, N_GRID, 3))}, "grid points without ESP values"),
    ({"quadrupole": np.ones((N_FRAMES, 3, 3))}, r"quadrupole \(frame 0\): found trace 3"),
    ({"D": np.ones((N_FRAMES, 2))}, r"D: found shape \(2,\) per frame"),
    ({"D": np.ones((N_FRAMES, 3)), "dipole": np.ones((N_FRAMES, 3))}, "several candidate keys"),
], ids=["esp-without-grid", "grid-without-esp", "not-traceless", "bad-dipole", "two-dipoles"])
def test_bad_electrostatic_fields_stop_with_one_line(tmp_path, extra, message):
    with pytest.raises(InputError, match=message) as err:
        read(tmp_path, {**base(), **extra})
    assert "\n" not in str(err.value)


def test_columns_survive_parquet_and_bad_charges_write_nothing(tmp_path):
    arrays = {**base(), "mono": RNG.normal(size=(N_FRAMES, 4)) * 0.3,
              "D": RNG.normal(size=(N_FRAMES, 3)), "Q": traceless(N_FRAMES),
              "esp": RNG.normal(size=(N_FRAMES, N_GRID)),
              "esp_grid": RNG.normal(size=(N_FRAMES, N_GRID, 3))}
    np.savez(tmp_path / "raw.npz", **arrays)
    out = tmp_path / "frames.parquet"
    ingest([str(tmp_path / "raw.npz")], {"format": "npz"}, out)
    back = read_frames(out)
    for column, key in (("mono", "mono"), ("dipole", "D"), ("quadrupole", "Q"), ("esp", "esp"),
                        ("esp_grid", "esp_grid")):
        np.testing.assert_array_equal(np.stack(list(back.extras[column])), arrays[key])
    back.extras["mono"][1] = back.extras["mono"][1] * 100  # e.g. charges read in wrong units
    bad = tmp_path / "bad.parquet"
    with pytest.raises(InputError, match="mono_max_abs"):
        write_frames(bad, back)
    assert not bad.exists()


def test_extended_xyz_says_per_atom_from_per_frame(tmp_path):
    """In extended XYZ a 6-value Q of a 6-atom frame is per frame: a quadrupole, not charges."""
    q, grid = traceless(2), RNG.normal(size=(2, N_GRID, 3))
    frames = []
    for i in range(2):
        atoms = Atoms("OCH4", positions=RNG.normal(size=(6, 3)) * 2)
        atoms.info["Q"] = q[i][[0, 1, 2, 0, 0, 1], [0, 1, 2, 1, 2, 2]]
        atoms.info["D"] = np.array([0.1, 0.2, 0.3 * i])
        atoms.info["esp"] = np.arange(N_GRID) * 0.01
        atoms.info["vdw_surface"] = grid[i].ravel()
        atoms.arrays["mono"] = np.array([-0.5, 0.1, 0.1, 0.1, 0.1, 0.1])
        frames.append(atoms)
    write(tmp_path / "raw.xyz", frames, format="extxyz")
    fs = read_extxyz(tmp_path / "raw.xyz", {"dipole": "Debye"})
    np.testing.assert_allclose(fs.extras["quadrupole"], q)
    np.testing.assert_allclose(fs.extras["dipole"][1], np.array([0.1, 0.2, 0.3]) * units.Debye)
    np.testing.assert_allclose(fs.extras["esp_grid"], grid)
    np.testing.assert_allclose(fs.extras["mono"][0], [-0.5, 0.1, 0.1, 0.1, 0.1, 0.1])
