"""NPZ ingest: round trips, unit conversion, field harmonisation and every bad-input case."""

from __future__ import annotations

import numpy as np
import pytest
from ase import units

from distillery.data.frames import read_frames, write_frames
from distillery.data.ingest import ingest
from distillery.data.npz import read_npz
from distillery.errors import InputError


def md17_arrays(n_frames: int = 5, n_atoms: int = 4, seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {
        "R": rng.normal(size=(n_frames, n_atoms, 3)),
        "z": np.array([6, 1, 1, 8][:n_atoms]),
        "E": rng.normal(size=(n_frames, 1)),
        "F": rng.normal(size=(n_frames, n_atoms, 3)),
    }


def save(tmp_path, arrays, name="raw.npz"):
    path = tmp_path / name
    np.savez(path, **arrays)
    return path


def test_round_trip_is_exact_after_unit_conversion(tmp_path):
    arrays = md17_arrays()
    raw = save(tmp_path, arrays)
    cfg = {"format": "npz", "units": {"energy": "kcal/mol", "length": "bohr"}}
    out = tmp_path / "frames.parquet"
    summary = ingest([str(raw)], cfg, out)
    fs = read_frames(out)
    kcal = units.kcal / units.mol
    assert summary["frames"] == 5 and len(fs) == 5
    np.testing.assert_array_equal(fs.stacked_positions(), arrays["R"] * units.Bohr)
    np.testing.assert_array_equal(fs.energy, arrays["E"][:, 0] * kcal)
    np.testing.assert_array_equal(fs.stacked_forces(), arrays["F"] * (kcal / units.Bohr))
    assert all(np.array_equal(z, arrays["z"]) for z in fs.numbers)


def test_hartree_per_bohr_forces_and_aliases(tmp_path):
    arrays = md17_arrays()
    raw = save(tmp_path, {"coords": arrays["R"], "nuclear_charges": arrays["z"],
                          "energies": arrays["E"][:, 0], "forces": arrays["F"]})
    fs = read_npz(raw, {"energy": "Hartree", "length": "angstrom", "forces": "Hartree/Bohr"})
    # CODATA 2018 Hartree; ASE uses CODATA 2014, equal to 1e-8
    np.testing.assert_allclose(fs.energy, arrays["E"][:, 0] * 27.211386245988, rtol=1e-7)
    np.testing.assert_allclose(fs.stacked_forces(), arrays["F"] * units.Hartree / units.Bohr)


def test_periodic_cell_and_extras_survive_round_trip(tmp_path):
    arrays = {**md17_arrays(), "cell": np.diag([5.0, 6.0, 7.0]), "pbc": np.array([1, 1, 0]),
              "temperature": np.arange(5.0), "name": np.array("ethanol")}
    fs = read_npz(save(tmp_path, arrays))
    out = tmp_path / "frames.parquet"
    write_frames(out, fs)
    back = read_frames(out)
    np.testing.assert_array_equal(back.cell[3], np.diag([5.0, 6.0, 7.0]))
    np.testing.assert_array_equal(back.pbc[0], [True, True, False])
    np.testing.assert_array_equal(back.extras["temperature"], np.arange(5.0))
    assert "name" not in back.extras


def test_field_override_picks_between_candidates(tmp_path):
    arrays = md17_arrays()
    raw = save(tmp_path, {**arrays, "energy": arrays["E"] * 2})
    with pytest.raises(InputError, match="several candidate keys"):
        read_npz(raw)
    fs = read_npz(raw, fields={"energy": "energy"})
    np.testing.assert_array_equal(fs.energy, arrays["E"][:, 0] * 2)


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda a: a.pop("R"), r"positions: found keys .* expected one of \['R'"),
        (lambda a: a.update(F=a["F"][:, :, :2]), r"F: found shape \(5, 4, 2\), expected"),
        (lambda a: a.update(E=a["E"][:3]), r"E: found shape \(3, 1\)"),
        (lambda a: a.update(z=np.array([6, 1, 1])), r"z: found shape \(3,\)"),
        (lambda a: a["F"].__setitem__((2, 1, 0), np.nan), r"F: found NaN/inf in 1 frame.*first 2"),
        (lambda a: a["R"].__setitem__((4, 0, 0), np.inf), r"R: found NaN/inf .* first 4"),
        (lambda a: a.update(z=np.array([6, 1, 1, 200])), r"z: found atomic number 200"),
        (lambda a: a.update(R=np.array(["a", "b"])), r"R: found dtype <U1, expected a numeric"),
    ],
)
def test_bad_npz_content_is_rejected_with_field_and_no_output(tmp_path, mutate, message):
    arrays = md17_arrays()
    mutate(arrays)
    raw = save(tmp_path, arrays)
    out = tmp_path / "frames.parquet"
    with pytest.raises(InputError, match=message) as info:
        ingest([str(raw)], {"format": "npz"}, out)
    assert str(raw) in str(info.value)
    assert not out.exists()
    assert list(tmp_path.glob("*.tmp")) == []


def test_truncated_and_non_npz_files_are_rejected(tmp_path):
    raw = save(tmp_path, md17_arrays(n_frames=200))
    truncated = tmp_path / "truncated.npz"
    truncated.write_bytes(raw.read_bytes()[: raw.stat().st_size // 2])
    with pytest.raises(InputError, match=r"truncated.npz: .*found (not a readable|an unreadable)"):
        read_npz(truncated)
    text = tmp_path / "notes.npz"
    text.write_text("this is not an archive\n")
    with pytest.raises(InputError, match="notes.npz: file: found not a readable NPZ archive"):
        read_npz(text)
    with pytest.raises(InputError, match="missing.npz: file"):
        read_npz(tmp_path / "missing.npz")


def test_unknown_unit_names_the_unit(tmp_path):
    raw = save(tmp_path, md17_arrays())
    with pytest.raises(InputError, match=r"units.energy: found 'kcal', expected one of"):
        read_npz(raw, {"energy": "kcal"})
    with pytest.raises(InputError, match=r"units.forces: found 'eV'"):
        read_npz(raw, {"forces": "eV"})
