"""The md_crystal generator: Langevin MD of an ASE-built crystal under a calculator named by
import path, written in the layout ingest reads, labelled by that calculator."""

from __future__ import annotations

import numpy as np
import pytest
from ase import Atoms
from ase.calculators.emt import EMT

from distillery.data.generate.frames import generate_frames
from distillery.data.generate.md_crystal import MdCrystalSettings, crystal, simulate
from distillery.errors import ConfigError
from distillery.io import read_json

COPPER = {"kind": "md_crystal", "calculator": "ase.calculators.emt:EMT", "element": "Cu",
          "structure": "fcc", "lattice_constant": 3.6, "repeat": 2, "n_frames": 10, "stride": 2,
          "equilibration": 5}


def test_silicon_default_cell_is_64_atoms_of_diamond() -> None:
    atoms = crystal(MdCrystalSettings(calculator="ase.calculators.emt:EMT"))
    assert len(atoms) == 64 and set(atoms.numbers) == {14}
    np.testing.assert_allclose(atoms.cell.array, np.eye(3) * 10.86)
    # diamond: four nearest neighbours at sqrt(3)/4 a
    distances = atoms.get_all_distances(mic=True)[0]
    assert np.sum(np.isclose(distances, np.sqrt(3) / 4 * 5.43)) == 4


def test_frames_are_md_of_the_named_calculator_and_carry_its_labels(tmp_path) -> None:
    settings = MdCrystalSettings(**COPPER)
    arrays = simulate(settings, seed=0, log=lambda _: None)
    assert arrays["R"].shape == (10, 32, 3) and list(arrays["pbc"]) == [True] * 3
    assert np.ptp(arrays["E"]) > 0  # the frames move
    for k in (0, 9):
        atoms = Atoms(numbers=arrays["z"], positions=arrays["R"][k], cell=arrays["cell"],
                      pbc=True, calculator=EMT())
        assert arrays["E"][k] == pytest.approx(atoms.get_potential_energy())
        np.testing.assert_allclose(arrays["F"][k], atoms.get_forces(), atol=1e-10)
    again = simulate(settings, seed=0, log=lambda _: None)
    np.testing.assert_array_equal(arrays["R"], again["R"])  # deterministic from the seed
    generate_frames("cu", settings, 300.0, 0, str(tmp_path / "cu.npz"), str(tmp_path / "t.json"))
    record = read_json(tmp_path / "t.json")
    assert record["calculator"] == "ase.calculators.emt:EMT" and record["temperature"] == 300.0
    assert np.load(tmp_path / "cu.npz")["R"].shape == (10, 32, 3)


def test_unknown_calculator_names_the_setting() -> None:
    settings = MdCrystalSettings(**{**COPPER, "calculator": "ase.calculators.emt:Nope"})
    with pytest.raises(ConfigError, match="generate.calculator"):
        simulate(settings, seed=0)
