"""Alanine dipeptide with OpenMM: the shipped topology, native units through ingest, and the
φ/ψ basin bookkeeping."""

from __future__ import annotations

import numpy as np
import openmm
import pytest
from ase import units
from openmm import app
from openmm import unit as u
from pydantic import ValidationError

from distillery.data.frames import read_frames
from distillery.data.generate import shipped_file
from distillery.data.generate.openmm_peptide import (
    TOPOLOGY,
    OpenmmPeptideSettings,
    backbone_dihedrals,
    basin_populations,
    generate,
)
from distillery.data.ingest import ingest

NAMES = ["ACE:CH3", "ACE:H1", "ACE:H2", "ACE:H3", "ACE:C", "ACE:O",
         "ALA:N", "ALA:H", "ALA:CA", "ALA:HA", "ALA:CB", "ALA:HB1", "ALA:HB2", "ALA:HB3",
         "ALA:C", "ALA:O", "NME:N", "NME:H", "NME:C", "NME:H1", "NME:H2", "NME:H3"]
SETTINGS = OpenmmPeptideSettings(n_frames=4, stride=20, equilibration=50)


def test_shipped_topology_is_l_alanine_dipeptide_with_standard_names():
    pdb = app.PDBFile(str(shipped_file(TOPOLOGY)))
    atoms = list(pdb.topology.atoms())
    assert [f"{a.residue.name}:{a.name}" for a in atoms] == NAMES
    # every atom matches an amber14 template (names and bonds are right)
    system = app.ForceField("amber14-all.xml", "implicit/gbn2.xml").createSystem(
        pdb.topology, nonbondedMethod=app.NoCutoff, constraints=app.HBonds)
    assert system.getNumParticles() == 22 and system.getNumConstraints() == 12
    x = np.array(pdb.positions.value_in_unit(u.angstrom))
    n, ca, c, cb = (x[NAMES.index(f"ALA:{name}")] for name in ("N", "CA", "C", "CB"))
    # L-alanine: (N - CA) . ((C - CA) x (CB - CA)) > 0, as in the wwPDB ideal ALA coordinates
    assert np.dot(n - ca, np.cross(c - ca, cb - ca)) > 0


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("peptide")
    record = generate(tmp / "ad.npz", SETTINGS, seed=1, log=lambda _: None)
    return tmp, record


def test_npz_is_in_openmm_units_and_names_its_topology(generated):
    tmp, record = generated
    with np.load(tmp / "ad.npz") as f:
        assert str(f["topology"]) == TOPOLOGY
        assert f["R"].shape == f["F"].shape == (4, 22, 3) and f["E"].shape == (4,)
        # float32 labels: nanoseconds of frames ship in a few MB
        assert f["R"].dtype == f["F"].dtype == f["E"].dtype == np.float32
        # nm: bonded atoms ~0.1-0.15 apart
        assert 0.09 < np.linalg.norm(f["R"][0, 4] - f["R"][0, 5]) < 0.14
        np.testing.assert_array_equal(f["z"][:6], [6, 1, 1, 1, 6, 8])
    assert record["units"] == {"energy": "kJ/mol", "length": "nm"}
    assert sum(record["basin_populations"].values()) == pytest.approx(1.0)


def test_ingest_converts_kj_per_mol_and_nm_and_labels_match_the_force_field(generated):
    tmp, _ = generated
    cfg = {"track": "forcefield", "format": "npz", "units": {"energy": "kJ/mol", "length": "nm"}}
    ingest([str(tmp / "ad.npz")], cfg, tmp / "frames.parquet")
    fs = read_frames(tmp / "frames.parquet")
    kj = units.kJ / units.mol
    with np.load(tmp / "ad.npz") as f:
        r, e, forces = (f[k].astype(np.float64) for k in ("R", "E", "F"))
        np.testing.assert_allclose(fs.stacked_positions(), r * 10.0, rtol=1e-15)
        np.testing.assert_allclose(fs.energy, e * kj, rtol=1e-15)
        np.testing.assert_allclose(fs.stacked_forces(), forces * kj / 10.0, rtol=1e-15)
    assert "topology" not in fs.extras
    # an independent double-precision evaluation of frame 2 gives the same labels in eV and Å
    pdb = app.PDBFile(str(shipped_file(TOPOLOGY)))
    system = app.ForceField(*SETTINGS.forcefield).createSystem(
        pdb.topology, nonbondedMethod=app.NoCutoff, constraints=app.HBonds)
    context = openmm.Context(system, openmm.VerletIntegrator(0.001),
                             openmm.Platform.getPlatformByName("Reference"))
    context.setPositions(fs.positions[2] * 0.1)
    state = context.getState(energy=True, forces=True)
    energy = state.getPotentialEnergy().value_in_unit(u.kilojoule_per_mole) * kj
    forces = state.getForces(asNumpy=True).value_in_unit(u.kilojoule_per_mole / u.nanometer)
    assert energy == pytest.approx(fs.energy[2], abs=1e-4)
    np.testing.assert_allclose(fs.forces[2], forces * kj / 10.0, atol=2e-4)


def test_dihedrals_and_basins_have_known_answers():
    pdb = app.PDBFile(str(shipped_file(TOPOLOGY)))
    x = np.array(pdb.positions.value_in_unit(u.nanometer))[None]
    phi, psi = backbone_dihedrals(x)
    # the shipped structure is the minimised extended (beta) conformation
    assert -180 < phi[0] < -120 and psi[0] > 120
    pops = basin_populations(np.array([-150.0, -70.0, -70.0, 60.0, -80.0]),
                             np.array([150.0, -40.0, 10.0, 40.0, -170.0]))
    assert pops == {"beta_C7eq": 0.4, "alpha_R": 0.4, "alpha_L_C7ax": 0.2}


def test_unconstrained_runs_need_a_short_step():
    with pytest.raises(ValidationError, match="timestep_fs <= 1"):
        OpenmmPeptideSettings(constraints="none")
    assert OpenmmPeptideSettings(constraints="none", timestep_fs=1.0).timestep_fs == 1.0
    with pytest.raises(ValidationError):
        OpenmmPeptideSettings(frames=10)
