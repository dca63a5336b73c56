"""Extended XYZ ingest through ASE: energies, forces and cells round-trip."""

from __future__ import annotations

import numpy as np
import pytest
from ase import Atoms
from ase.calculators.singlepoint import SinglePointCalculator
from ase.io import write

from distillery.data.extxyz import read_extxyz
from distillery.data.frames import read_frames, write_frames
from distillery.errors import InputError


def make_frames(n: int = 3) -> list[Atoms]:
    rng = np.random.default_rng(1)
    frames = []
    for i in range(n):
        atoms = Atoms("CuAu2", positions=rng.normal(size=(3, 3)), cell=np.eye(3) * 8, pbc=True)
        atoms.calc = SinglePointCalculator(atoms, energy=-1.5 * i, forces=rng.normal(size=(3, 3)))
        frames.append(atoms)
    return frames


def test_extxyz_round_trip(tmp_path):
    frames = make_frames()
    path = tmp_path / "train.extxyz"
    write(path, frames, format="extxyz")
    fs = read_extxyz(path, {"energy": "kcal/mol"})
    out = tmp_path / "frames.parquet"
    write_frames(out, fs)
    back = read_frames(out)
    kcal = 0.0433641043
    np.testing.assert_allclose(back.energy, [-1.5 * i * kcal for i in range(3)], rtol=1e-8)
    # extxyz stores 8 decimals
    np.testing.assert_allclose(back.forces[1], frames[1].get_forces() * kcal, atol=1e-9)
    np.testing.assert_allclose(back.positions[2], frames[2].positions)
    np.testing.assert_array_equal(back.numbers[0], [29, 79, 79])
    np.testing.assert_allclose(back.cell[0], np.eye(3) * 8)


def test_malformed_extxyz_is_rejected(tmp_path):
    path = tmp_path / "broken.xyz"
    path.write_text("3\nProperties=species:S:1:pos:R:3\nCu 0 0 0\nAu 1 1\n")
    with pytest.raises(InputError, match="broken.xyz: file: found unparseable extended XYZ"):
        read_extxyz(path)
