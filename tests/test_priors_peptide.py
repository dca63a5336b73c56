"""Real-molecule coarse-graining: IUPAC dihedrals against MDTraj, a topology-file selection
mapping of alanine dipeptide, and priors fitted per class of bead types."""

from __future__ import annotations

import jax.numpy as jnp
import mdtraj
import numpy as np
import pytest

from distillery.cg import geometry
from distillery.cg.compare import collective_variable, fes_histograms
from distillery.cg.energy import Priors, prior_energy
from distillery.cg.mapping import bonds_to_hydrogen, constraint_warnings, from_config
from distillery.cg.prior_fit import fit_priors
from distillery.cg.settings import MappingSettings, PriorFitSettings
from distillery.cg.terms import HarmonicTerm
from distillery.cg.topology import from_bonds
from distillery.data.generate import shipped_file
from distillery.errors import InputError
from distillery.potentials.cgnet import geometry_features

PDB = "data/topologies/alanine_dipeptide.pdb"
BACKBONE = "name C N CA and not (resname NME and name C)"
KT = 0.025852


@pytest.fixture(scope="module")
def peptide():
    traj = mdtraj.load(str(shipped_file(PDB)))
    rng = np.random.default_rng(0)
    # perturbed copies visit every sign and quadrant of the torsions
    xyz = traj.xyz + rng.normal(0, 0.03, (200, *traj.xyz.shape[1:])).astype(np.float32)
    return mdtraj.Trajectory(xyz, traj.topology)


def test_dihedrals_follow_mdtraj_iupac_convention(peptide):
    for compute in (mdtraj.compute_phi, mdtraj.compute_psi, mdtraj.compute_omega):
        quads, expected = compute(peptide)
        ours = geometry.dihedrals(peptide.xyz.astype(np.float64), quads)
        np.testing.assert_allclose(ours, expected, atol=2e-5)
        ours_jax = np.asarray(geometry.dihedrals(jnp.asarray(peptide.xyz), quads, jnp))
        np.testing.assert_allclose(ours_jax, expected, atol=2e-4)
    # both signs occur, so a mirrored convention could not pass
    _, phi = mdtraj.compute_phi(peptide)
    assert (phi > 0).any() and (phi < 0).any()


def test_cgnet_dihedral_features_follow_mdtraj_convention(peptide):
    """The delta network's sin/cos of phi and psi are those of MDTraj's IUPAC angles."""
    quads = np.concatenate([mdtraj.compute_phi(peptide)[0], mdtraj.compute_psi(peptide)[0]])
    expected = np.concatenate([mdtraj.compute_phi(peptide)[1], mdtraj.compute_psi(peptide)[1]],
                              axis=1)
    features = np.asarray(geometry_features(jnp.asarray(peptide.xyz), peptide.n_atoms, (),
                                            quads))
    sin, cos = features[:, -4:-2], features[:, -2:]
    np.testing.assert_allclose(sin, np.sin(expected), atol=2e-4)
    np.testing.assert_allclose(cos, np.cos(expected), atol=2e-4)


def _numbers(top: mdtraj.Topology) -> np.ndarray:
    return np.array([a.element.atomic_number for a in top.atoms])


def test_selection_mapping_of_alanine_dipeptide(peptide):
    numbers = _numbers(peptide.topology)
    cfg = MappingSettings(kind="selection", selection=BACKBONE, topology=PDB, types="name",
                          weights="selected")
    mapping = from_config(cfg, numbers)
    beads = mapping.beads
    assert beads.types == ("C", "N", "CA", "C", "N")
    assert beads.labels == ("ACE1:C", "ALA2:N", "ALA2:CA", "ALA2:C", "NME3:N")
    assert beads.bonds == ((0, 1), (1, 2), (2, 3), (3, 4))
    # hydrogens join their heavy atom: H (7) with ALA N, HA (9) with CA, NME H (17) with N
    groups = [set(np.nonzero(row)[0]) for row in mapping.force_map]
    assert groups == [{4}, {6, 7}, {8, 9}, {14}, {16, 17}]
    # positions sit on the selected atoms; forces are summed over each group
    x = peptide.xyz[:3].astype(np.float64)
    np.testing.assert_allclose(mapping.positions(x), x[:, [4, 6, 8, 14, 16]])
    f = np.random.default_rng(1).normal(size=x.shape)
    np.testing.assert_allclose(mapping.forces(f)[:, 1], f[:, 6] + f[:, 7])
    # aggregated hydrogens: no constraint warning; a slice of the same atoms is warned about
    constrained = bonds_to_hydrogen(PDB)
    assert constraint_warnings(mapping, constrained) == []
    sliced = from_config(MappingSettings(kind="index", indices=(4, 6, 8, 14, 16)), numbers)
    warnings = constraint_warnings(sliced, constrained)
    assert len(warnings) == 3  # N-H, CA-HA and the NME N-H
    assert any("atoms 6 and 7" in w or "atoms 7 and 6" in w for w in warnings)
    with pytest.raises(InputError, match="cg.mapping.selection"):
        from_config(cfg.model_copy(update={"selection": "name XX"}), numbers)


def test_priors_are_fitted_per_class_and_evaluated_in_one_call(peptide):
    # two bond classes with different lengths along one chain: A-B 1.0 Å, B-B 1.5 Å
    rng = np.random.default_rng(2)
    n, types = 4000, ("A", "B", "B", "A")
    lengths = np.array([1.0, 1.5, 1.0]) + rng.normal(0, 0.02, (n, 3))
    theta = 1.9 + rng.normal(0, 0.05, (n, 2))
    x = np.zeros((n, 4, 3))
    x[:, 1, 0] = lengths[:, 0]
    x[:, 2] = x[:, 1] + lengths[:, 1, None] * np.stack(
        [-np.cos(theta[:, 0]), np.sin(theta[:, 0]), np.zeros(n)], axis=1)
    d = x[:, 2] - x[:, 1]
    d /= np.linalg.norm(d, axis=1, keepdims=True)
    rot = np.stack([-np.cos(theta[:, 1]), -np.sin(theta[:, 1]), np.zeros(n)], axis=1)
    ortho = np.stack([-d[:, 1], d[:, 0], np.zeros(n)], axis=1)
    x[:, 3] = x[:, 2] + lengths[:, 2, None] * (-rot[:, :1] * d + rot[:, 1:2] * ortho)
    topology = from_bonds(4, [(0, 1), (1, 2), (2, 3)], types=types)
    names, index = topology.classes("bond")
    assert names == ["A-B", "B-B"] and index.tolist() == [0, 1, 0]
    priors, hists = fit_priors(x, topology, KT, PriorFitSettings(terms=("bond", "angle")))
    bonds = priors.terms["bond"]
    assert set(bonds) == {"A-B", "B-B"} and set(priors.terms["angle"]) == {"A-B-B"}
    for name, r0 in (("A-B", 1.0), ("B-B", 1.5)):
        assert bonds[name].x0 == pytest.approx(r0, abs=0.005)
        assert bonds[name].x0 == pytest.approx(hists["bond"][name].mean, abs=0.005)
        assert bonds[name].k == pytest.approx(KT / 0.02**2, rel=0.15)
    # the vectorised energy equals the sum over interactions with each one's class term
    y = x[:5]
    r = geometry.bond_lengths(y, topology.bonds)
    a = geometry.angles(y, topology.angles)
    expected = (bonds["A-B"].energy(r[:, [0, 2]]).sum(1) + bonds["B-B"].energy(r[:, 1])
                + priors.terms["angle"]["A-B-B"].energy(a).sum(1))
    np.testing.assert_allclose(np.asarray(prior_energy(priors, jnp.asarray(y))), expected,
                               rtol=1e-5)
    with pytest.raises(KeyError, match="no prior term"):
        prior_energy(Priors(topology, KT, {"bond": {"A-B": HarmonicTerm(1.0, 1.0)}}),
                     jnp.asarray(y))


def test_named_phi_psi_variables_match_mdtraj_on_mapped_beads(peptide):
    numbers = _numbers(peptide.topology)
    cfg = MappingSettings(kind="selection", selection=BACKBONE, topology=PDB, types="name",
                          weights="selected")
    beads = from_config(cfg, numbers).positions(peptide.xyz.astype(np.float64))
    topology = from_bonds(5, [(0, 1), (1, 2), (2, 3), (3, 4)])
    variables = {"phi": (0, 1, 2, 3), "psi": (1, 2, 3, 4), "ends": (0, 4)}
    np.testing.assert_allclose(collective_variable("phi", beads, topology, variables),
                               mdtraj.compute_phi(peptide)[1][:, 0], atol=2e-5)
    np.testing.assert_allclose(collective_variable("psi", beads, topology, variables),
                               mdtraj.compute_psi(peptide)[1][:, 0], atol=2e-5)
    np.testing.assert_allclose(collective_variable("ends", beads, topology, variables),
                               geometry.end_to_end(beads))
    fes = fes_histograms(beads, beads[::-1], topology, ("phi", "psi"), 12, variables)
    assert fes.edges[0][0] == pytest.approx(-np.pi) and fes.edges[1][-1] == pytest.approx(np.pi)
    assert fes.divergence == pytest.approx(0.0, abs=1e-12)
    with pytest.raises(InputError, match="cg.simulate.variables.bad"):
        collective_variable("bad", beads, topology, {"bad": (0, 9)})
