"""Extended XYZ field conventions: ASE calculator results, MACE `REF_*` keys, `fields:`
overrides, stress/virial forms, per-atom extras and missing force-field labels."""

from __future__ import annotations

import numpy as np
import pyarrow.parquet as pq
import pytest
from ase import Atoms, units
from ase.calculators.singlepoint import SinglePointCalculator
from ase.io import write

from distillery.data.extxyz import read_extxyz
from distillery.data.frames import read_frames, write_frames
from distillery.data.harmonise import tensor_3x3
from distillery.data.ingest import ingest
from distillery.data.npz import read_npz
from distillery.errors import InputError

KCAL = units.kcal / units.mol
RNG = np.random.default_rng(11)
# MACE lays out its training files like this: REF_ keys, no Lattice for molecules
MACE_HEADER = "Properties=species:S:1:pos:R:3:REF_forces:R:3 REF_energy={e} REF_stress=\"{s}\" " \
    "config_type=md pbc=\"F F F\"\n"
MACE_XYZ = (
    "3\n" + MACE_HEADER.format(e=-12.5, s="1 2 3 4 5 6")
    + "O 0.000000 0.000000 0.119262 0.10 0.20 -0.30\n"
    + "H 0.000000 0.763239 -0.477047 -0.05 -0.10 0.15\n"
    + "H 0.000000 -0.763239 -0.477047 -0.05 -0.10 0.15\n"
    + "2\n" + MACE_HEADER.format(e=-3.25, s="0 0 0 0 0 0")
    + "H 0.000000 0.000000 0.000000 1.00 0.00 0.00\n"
    + "H 0.000000 0.000000 0.740000 -1.00 0.00 0.00\n"
)


def ase_frames(n: int = 3) -> list[Atoms]:
    """Water molecules as ase.io.write stores a calculator's results (no cell)."""
    frames = []
    for i in range(n):
        atoms = Atoms("OH2", positions=np.round(RNG.normal(size=(3, 3)), 6))
        atoms.calc = SinglePointCalculator(
            atoms, energy=-10.0 - i, forces=np.round(RNG.normal(size=(3, 3)), 6),
            stress=np.round(RNG.normal(size=6), 6), charges=np.array([-0.8, 0.4, 0.4]))
        atoms.arrays["dipoles"] = np.round(RNG.normal(size=(3, 3)), 6)
        atoms.info["virial"] = np.diag([1.0, 2.0, 3.0]) * i
        atoms.info["temperature"] = 300.0 + i
        frames.append(atoms)
    return frames


def test_ase_written_molecules_keep_every_calculator_field(tmp_path):
    frames = ase_frames()
    path = tmp_path / "water.extxyz"
    write(path, frames, format="extxyz")
    fs = read_extxyz(path, {"energy": "kcal/mol"})
    np.testing.assert_allclose(fs.energy, [(-10.0 - i) * KCAL for i in range(3)], rtol=1e-12)
    for i, atoms in enumerate(frames):
        calc = atoms.calc.results
        np.testing.assert_allclose(fs.forces[i], calc["forces"] * KCAL, rtol=1e-12)
        voigt = calc["stress"]
        np.testing.assert_allclose(fs.stress[i][[0, 1, 2, 1, 0, 0], [0, 1, 2, 2, 2, 1]],
                                   voigt * KCAL, rtol=1e-12)
        np.testing.assert_array_equal(fs.stress[i], fs.stress[i].T)
        np.testing.assert_allclose(fs.virial[i], np.diag([1.0, 2.0, 3.0]) * i * KCAL)
        np.testing.assert_array_equal(fs.extras["charges"][i], [-0.8, 0.4, 0.4])
        # per-atom dipoles are recognised by shape (distillery.data.electrostatics)
        np.testing.assert_array_equal(fs.extras["atomic_dipoles"][i], atoms.arrays["dipoles"])
        np.testing.assert_array_equal(fs.extras["mono"][i], fs.extras["charges"][i])
    np.testing.assert_array_equal(fs.extras["temperature"], [300.0, 301.0, 302.0])
    assert fs.cell is None and fs.pbc is None

    out = tmp_path / "frames.parquet"
    write_frames(out, fs)
    back = read_frames(out)
    np.testing.assert_array_equal(back.stress, fs.stress)
    np.testing.assert_array_equal(back.virial, fs.virial)
    assert back.extras["atomic_dipoles"][2].shape == (3, 3)
    np.testing.assert_array_equal(back.extras["atomic_dipoles"][2], frames[2].arrays["dipoles"])
    np.testing.assert_array_equal(back.extras["charges"][1], [-0.8, 0.4, 0.4])


def test_mace_style_file_reads_ref_keys(tmp_path):
    path = tmp_path / "mace.xyz"
    path.write_text(MACE_XYZ)
    fs = read_extxyz(path)
    np.testing.assert_array_equal(fs.energy, [-12.5, -3.25])
    np.testing.assert_array_equal(fs.forces[0][0], [0.10, 0.20, -0.30])
    np.testing.assert_array_equal(fs.forces[1], [[1.0, 0, 0], [-1.0, 0, 0]])
    np.testing.assert_array_equal(fs.stress[0], [[1, 6, 5], [6, 2, 4], [5, 4, 3]])
    assert [len(z) for z in fs.numbers] == [3, 2] and fs.cell is None


def test_stress_forms_agree():
    full = np.array([[1.0, 6.0, 5.0], [6.0, 2.0, 4.0], [5.0, 4.0, 3.0]])
    forms = [np.array([1.0, 2.0, 3.0, 4.0, 5.0, 6.0]), full.ravel(), full]
    np.testing.assert_array_equal(tensor_3x3(forms, "x", "stress"), np.stack([full] * 3))
    with pytest.raises(InputError, match=r"x: stress \(frame 0\): found .* expected 3x3"):
        tensor_3x3([np.ones(4)], "x", "stress", per_frame=True)


def test_periodic_stress_virial_and_pressure_units(tmp_path):
    path = tmp_path / "bulk.xyz"
    path.write_text(
        "2\nLattice=\"4 0 0 0 4 0 0 0 4\" Properties=species:S:1:pos:R:3:forces:R:3 "
        "energy=-7.0 stress=\"1 0.5 0 0.5 2 0 0 0 3\" virial=\"9 0 0 0 8 0 0 0 7\" pbc=\"T T T\"\n"
        "Cu 0 0 0 0 0 0\nCu 2 2 2 0 0 0\n")
    fs = read_extxyz(path, {"stress": "GPa"})
    np.testing.assert_allclose(fs.stress[0], np.array([[1, 0.5, 0], [0.5, 2, 0], [0, 0, 3]])
                               * units.GPa, rtol=1e-12)
    np.testing.assert_array_equal(fs.virial[0], np.diag([9.0, 8.0, 7.0]))
    np.testing.assert_array_equal(fs.cell[0], np.eye(3) * 4)
    np.testing.assert_array_equal(fs.pbc[0], [True, True, True])


def test_candidates_are_ambiguous_until_fields_choose(tmp_path):
    atoms = Atoms("H2", positions=[[0, 0, 0], [0, 0, 0.74]])
    atoms.calc = SinglePointCalculator(atoms, energy=-1.0, forces=np.zeros((2, 3)))
    atoms.info["REF_energy"] = -2.0
    atoms.arrays["REF_forces"] = np.ones((2, 3))
    path = tmp_path / "both.xyz"
    write(path, atoms, format="extxyz")
    with pytest.raises(InputError, match=r"energy: found several candidate keys "
                                         r"\['energy', 'REF_energy'\].*fields: \{energy"):
        read_extxyz(path)
    fs = read_extxyz(path, fields={"energy": "REF_energy", "forces": "REF_forces"})
    np.testing.assert_array_equal(fs.energy, [-2.0])
    np.testing.assert_array_equal(fs.forces[0], np.ones((2, 3)))


def test_per_atom_energies_do_not_compete_with_the_energy(tmp_path):
    atoms = Atoms("H2", positions=[[0, 0, 0], [0, 0, 0.74]])
    atoms.calc = SinglePointCalculator(atoms, energy=-1.0, energies=np.array([-0.4, -0.6]),
                                       forces=np.zeros((2, 3)))
    path = tmp_path / "energies.xyz"
    write(path, atoms, format="extxyz")
    fs = read_extxyz(path)
    np.testing.assert_array_equal(fs.energy, [-1.0])
    np.testing.assert_array_equal(fs.extras["energies"][0], [-0.4, -0.6])


def test_forcefield_without_force_labels_fails_at_ingest_naming_keys_and_fix(tmp_path):
    path = tmp_path / "unlabelled.xyz"
    path.write_text(MACE_XYZ.replace("REF_forces", "my_f"))
    out = tmp_path / "frames.parquet"
    cfg = {"track": "forcefield", "format": "extxyz"}
    with pytest.raises(InputError) as info:
        ingest([str(path)], cfg, out)
    message = str(info.value)
    assert message.startswith(f"{path}: forces: found keys [")
    assert "'my_f'" in message and "'REF_energy'" in message
    assert "fields: {forces: <key>}" in message and "\n" not in message
    assert not out.exists()
    summary = ingest([str(path)], {**cfg, "fields": {"forces": "my_f"}}, out)
    assert summary["has_forces"] and read_frames(out).forces[1][0, 0] == 1.0


def test_forcefield_without_energy_fails_but_other_tracks_may_omit_it(tmp_path):
    path = tmp_path / "forces_only.xyz"
    path.write_text(MACE_XYZ.replace("REF_energy=-12.5 ", "").replace("REF_energy=-3.25 ", ""))
    with pytest.raises(InputError, match=r"forces_only.xyz: energy: found keys .*REF_forces"):
        ingest([str(path)], {"track": "forcefield", "format": "extxyz"}, tmp_path / "a.parquet")
    summary = ingest([str(path)], {"track": "coarse_grained", "format": "extxyz"},
                     tmp_path / "b.parquet")
    assert not summary["has_energy"] and summary["has_forces"]


def test_label_on_some_frames_only_is_rejected(tmp_path):
    path = tmp_path / "partial.xyz"
    path.write_text(MACE_XYZ.replace("REF_energy=-3.25 ", ""))
    with pytest.raises(InputError, match=r"partial.xyz: REF_energy: found 1 frame\(s\) without, "
                                         r"first 1"):
        read_extxyz(path)


def test_npz_and_extxyz_of_the_same_frames_ingest_to_the_same_table(tmp_path):
    n, numbers = 4, np.array([8, 1, 1])
    positions = np.round(RNG.normal(size=(n, 3, 3)), 6)
    forces = np.round(RNG.normal(size=(n, 3, 3)), 6)
    energy = np.round(RNG.normal(size=n), 6)
    charges = np.round(RNG.normal(size=(n, 3)), 6)
    npz = tmp_path / "frames.npz"
    np.savez(npz, R=positions, z=numbers, E=energy, F=forces, charges=charges)
    frames = []
    for i in range(n):
        atoms = Atoms(numbers=numbers, positions=positions[i])
        atoms.info["REF_energy"] = energy[i]
        atoms.arrays["REF_forces"] = forces[i]
        atoms.arrays["REF_charges"] = charges[i]
        frames.append(atoms)
    xyz = tmp_path / "frames.xyz"
    write(xyz, frames, format="extxyz")
    cfg = {"track": "forcefield", "units": {"energy": "kcal/mol"}}
    ingest([str(npz)], {**cfg, "format": "npz"}, tmp_path / "a.parquet")
    ingest([str(xyz)], {**cfg, "format": "extxyz"}, tmp_path / "b.parquet")
    a, b = pq.read_table(tmp_path / "a.parquet"), pq.read_table(tmp_path / "b.parquet")
    assert a.equals(b, check_metadata=True)
    assert a.column_names == ["frame", "n_atoms", "numbers", "positions", "energy", "forces",
                              "charges"]


def test_npz_stress_and_shaped_extras_round_trip(tmp_path):
    n = 3
    path = tmp_path / "bulk.npz"
    np.savez(path, R=RNG.normal(size=(n, 2, 3)), z=np.array([29, 29]), E=np.zeros(n),
             F=np.zeros((n, 2, 3)), cell=np.eye(3) * 5, stress=np.tile(np.arange(6.0), (n, 1)),
             dipole=np.ones((n, 3)), magmoms=np.ones((n, 2)), name=np.array("cu"))
    fs = read_npz(path, {"energy": "kJ/mol", "length": "nm"})
    kj = units.kJ / units.mol
    expected = np.array([[0, 5, 4], [5, 1, 3], [4, 3, 2]]) * kj / 1000.0
    np.testing.assert_allclose(fs.stress[1], expected, rtol=1e-12)
    out = tmp_path / "frames.parquet"
    write_frames(out, fs)
    back = read_frames(out)
    assert back.extras["dipole"].shape == (n, 3)
    assert back.extras["magmoms"].dtype == object and back.extras["magmoms"][0].shape == (2,)
    assert "name" not in back.extras
    np.testing.assert_allclose(back.stress, fs.stress)


def test_files_with_different_atom_counts_keep_per_atom_extras(tmp_path):
    paths = []
    for n_atoms in (2, 3):
        atoms = Atoms("H" * n_atoms, positions=RNG.normal(size=(n_atoms, 3)))
        atoms.calc = SinglePointCalculator(atoms, energy=-1.0, forces=np.zeros((n_atoms, 3)))
        atoms.arrays["dipoles"] = np.full((n_atoms, 3), float(n_atoms))
        paths.append(tmp_path / f"h{n_atoms}.xyz")
        write(paths[-1], atoms, format="extxyz")
    out = tmp_path / "frames.parquet"
    ingest([str(p) for p in paths], {"track": "forcefield", "format": "extxyz"}, out)
    back = read_frames(out)
    assert [d.shape for d in back.extras["atomic_dipoles"]] == [(2, 3), (3, 3)]
    assert back.subset([1]).extras["atomic_dipoles"][0][0, 0] == 3.0
