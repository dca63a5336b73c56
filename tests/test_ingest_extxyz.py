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
    path.write_text("2\nProperties=species:S:1:pos:R:3\nCu 0 0 0\nAu 1 1\n")
    with pytest.raises(InputError, match="broken.xyz: file: found unparseable extended XYZ"):
        read_extxyz(path)


@pytest.mark.parametrize(("text", "where", "found"), [
    ("0123456789", r"frame 0, line 1", "atom count 123456789 but 0 lines follow"),
    ("1\nenergy=1\nH 0 0 0\n3\nenergy=2\nH 0 0 0\n", r"frame 1, line 4",
     "atom count 3 but 1 lines follow"),
])
def test_atom_count_beyond_the_file_is_rejected_at_once(tmp_path, text, where, found):
    # ASE's reader alone spends minutes on an atom count of 123456789 before it fails
    path = tmp_path / "short.xyz"
    path.write_text(text)
    with pytest.raises(InputError, match=rf"short.xyz: file \({where}\): found {found}"):
        read_extxyz(path)
