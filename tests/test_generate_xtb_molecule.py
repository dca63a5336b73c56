"""GFN2-xTB molecular data: the MD17 and rMD17 layouts, the unit round trip through ingest, and
forces that are the gradient of the xTB energy."""

from __future__ import annotations

import numpy as np
import pyarrow.parquet as pq
import pytest
from ase import units
from pydantic import ValidationError
from tblite.ase import TBLite

from distillery.data.frames import read_frames
from distillery.data.generate.xtb_molecule import (
    MD17_KEYS,
    RMD17_KEYS,
    XtbMoleculeSettings,
    dataset_md5,
    load_molecule,
    md17_arrays,
    rmd17_arrays,
    simulate,
    write_npz,
)
from distillery.data.ingest import ingest
from distillery.errors import InputError

SETTINGS = XtbMoleculeSettings(n_frames=6, stride=3, equilibration=5)
CFG = {"track": "forcefield", "format": "npz",
       "units": {"energy": "kcal/mol", "length": "angstrom"}}


@pytest.fixture(scope="module")
def trajectory():
    return simulate(SETTINGS, seed=3, log=lambda _: None)


@pytest.fixture(scope="module")
def ingested(trajectory, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("xtb")
    arrays = md17_arrays(trajectory, "ethanol")
    write_npz(tmp / "md17.npz", arrays)
    write_npz(tmp / "rmd17.npz", rmd17_arrays(arrays))
    ingest([str(tmp / "md17.npz")], CFG, tmp / "md17.parquet")
    ingest([str(tmp / "rmd17.npz")], CFG, tmp / "rmd17.parquet")
    return tmp


def test_md17_file_has_exactly_the_published_layout(trajectory, ingested):
    with np.load(ingested / "md17.npz") as f:
        assert set(f.files) == set(MD17_KEYS)
        assert f["E"].dtype == np.float64 and f["E"].shape == (6, 1)
        assert f["F"].shape == f["R"].shape == (6, 9, 3)
        assert f["z"].dtype.kind == "i" and sorted(f["z"].tolist()) == [1] * 6 + [6, 6, 8]
        assert (str(f["name"]), str(f["theory"]), str(f["type"])) == ("ethanol", "GFN2-xTB", "d")
        assert str(f["md5"]) == dataset_md5({k: f[k] for k in "zREF"}) and len(str(f["md5"])) == 32
        # kcal/mol on disk
        np.testing.assert_allclose(f["E"][:, 0] * units.kcal / units.mol, trajectory["energy"],
                                   rtol=1e-14)


def test_ingest_returns_xtb_values_in_ev(trajectory, ingested):
    fs = read_frames(ingested / "md17.parquet")
    np.testing.assert_allclose(fs.energy, trajectory["energy"], rtol=1e-13)
    np.testing.assert_allclose(fs.stacked_forces(), trajectory["forces"], rtol=1e-12, atol=1e-13)
    np.testing.assert_array_equal(fs.stacked_positions(), trajectory["positions"])
    assert fs.extras == {}
    # labels belong to the saved positions: a fresh xTB calculation on frame 4 agrees
    atoms = load_molecule("ethanol")
    atoms.positions = fs.positions[4]
    atoms.calc = TBLite(method="GFN2-xTB", verbosity=0)
    assert abs(atoms.get_potential_energy() - fs.energy[4]) < 1e-5
    np.testing.assert_allclose(atoms.get_forces(), fs.forces[4], atol=1e-4)


def test_forces_are_minus_the_energy_gradient(ingested):
    fs = read_frames(ingested / "md17.parquet")
    atoms = load_molecule("ethanol")
    atoms.calc = TBLite(method="GFN2-xTB", verbosity=0, accuracy=0.01)
    frame, h = 2, 1e-3
    numeric = np.zeros((len(atoms), 3))
    for i in range(len(atoms)):
        for k in range(3):
            energies = []
            for sign in (1, -1):
                shifted = fs.positions[frame].copy()
                shifted[i, k] += sign * h
                atoms.positions = shifted
                energies.append(atoms.get_potential_energy())
            numeric[i, k] = -(energies[0] - energies[1]) / (2 * h)
    np.testing.assert_allclose(fs.forces[frame], numeric, atol=2e-3)
    assert np.abs(fs.forces[frame]).max() > 0.1


def test_rmd17_layout_ingests_to_the_same_table(ingested):
    with np.load(ingested / "rmd17.npz") as f:
        assert set(f.files) == set(RMD17_KEYS)
        assert f["energies"].shape == (6,) and f["coords"].shape == (6, 9, 3)
        np.testing.assert_array_equal(f["old_indices"], np.arange(6))
    md17 = pq.read_table(ingested / "md17.parquet")
    rmd17 = pq.read_table(ingested / "rmd17.parquet")
    assert rmd17.select(md17.column_names).equals(md17)
    # the original labels travel along, in the file's units
    assert set(rmd17.column_names) - set(md17.column_names) == {"old_indices", "old_energies",
                                                                 "old_forces"}


def test_rmd17_subset_keeps_its_md17_indices(trajectory):
    arrays = md17_arrays(trajectory, "ethanol")
    sub = rmd17_arrays(arrays, np.array([4, 1]))
    np.testing.assert_array_equal(sub["coords"], arrays["R"][[4, 1]])
    np.testing.assert_array_equal(sub["energies"], arrays["E"][[4, 1], 0])


def test_molecules_by_name_file_or_error():
    assert load_molecule("ethanol").get_chemical_formula() == "C2H6O"
    assert load_molecule("CH3CH2OH").get_chemical_formula() == "C2H6O"
    assert load_molecule("malonaldehyde").get_chemical_formula() == "C3H4O2"
    with pytest.raises(InputError, match="generate.molecule: found 'unobtainium'"):
        load_molecule("unobtainium")


def test_settings_are_frozen_and_strict():
    with pytest.raises(ValidationError):
        XtbMoleculeSettings(n_frame=10)
    with pytest.raises(ValidationError):
        XtbMoleculeSettings(temperature=-1)
    with pytest.raises(ValidationError):
        SETTINGS.n_frames = 3  # type: ignore[misc]
