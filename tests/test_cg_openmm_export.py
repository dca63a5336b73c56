"""The prior exported as an OpenMM System reproduces the JAX prior's energies and forces for
every term form (harmonic, Fourier, repulsion, splines with and without tails)."""

from __future__ import annotations

import dataclasses

import jax
import numpy as np
import openmm
import pytest
from openmm import app

from distillery.cg import geometry
from distillery.cg.energy import KINDS, Priors
from distillery.cg.openmm_export import (
    EV_TO_KJ_PER_MOL,
    build_system,
    main,
    openmm_energies_and_forces,
)
from distillery.cg.prior_fit import fit_priors
from distillery.cg.serialise import save_priors
from distillery.cg.settings import PriorFitSettings
from distillery.cg.terms import HarmonicTerm, SplineTerm
from distillery.cg.topology import from_bonds
from distillery.data.frames import FrameSet, write_frames
from distillery.errors import InputError

KT = 0.025852
# a branched molecule of three bead types: several classes per kind
BONDS = [(0, 1), (1, 2), (2, 3), (3, 4), (4, 5), (2, 6)]
TYPES = ("A", "B", "A", "B", "A", "B", "C")
NUMBERS = np.array([6, 7, 6, 7, 6, 7, 8])


def _frames(n: int, seed: int) -> np.ndarray:
    """Perturbed copies of a zig-zag chain with a side bead at bead 2."""
    k = np.arange(5)
    steps = np.stack([np.cos(0.6) + 0 * k, (-1.0) ** k * np.sin(0.6), 0.3 * (k % 3 - 1)], 1)
    chain = np.vstack([np.zeros(3), np.cumsum(3.8 * steps / np.linalg.norm(steps, axis=1)[:, None],
                                             axis=0)])
    base = np.vstack([chain, chain[2] + [0.5, 0.8, 3.4]])
    return base + np.random.default_rng(seed).normal(0, 0.2, (n, *base.shape))


def _jax_reference(priors: Priors, x: np.ndarray) -> tuple[np.ndarray, ...]:
    """Energies, forces and energies per kind of the JAX prior in double precision (frames
    are independent: the gradient of their summed energy holds each frame's forces)."""

    def energy(y):
        terms = priors.term_energies(y)
        total = sum(terms.values())
        return total.sum(), (total, terms)

    with jax.enable_x64(True):
        (_, (total, by_kind)), grad = jax.jit(jax.value_and_grad(energy, has_aux=True))(x)
    return np.asarray(total), -np.asarray(grad), {k: np.asarray(v) for k, v in by_kind.items()}


@pytest.fixture(scope="module")
def data() -> dict[str, object]:
    """Parametric and spline priors of one molecule (the angle splines without tails, held
    constant beyond their grids), frames to compare on and the JAX prior's answers."""
    train = _frames(300, 0)
    topology = from_bonds(7, BONDS, 3, types=TYPES)
    fitted = {}
    for fit in ("parametric", "spline"):
        settings = PriorFitSettings(fit=fit, bins={"bond": 30, "angle": 30, "dihedral": 24,
                                                    "pair": 30}, dihedral_order=2, min_count=2)
        fitted[fit] = fit_priors(train, topology, KT, settings)[0]
    angles = {name: dataclasses.replace(t, tail=None)
              for name, t in fitted["spline"].terms["angle"].items()}
    fitted["spline"] = dataclasses.replace(fitted["spline"],
                                           terms={**fitted["spline"].terms, "angle": angles})
    # frames inside the fitted ranges; squeezed and stretched beyond them (spline tails, steep
    # repulsion); with the first angle folded and straightened beyond its grid
    x = _frames(4, 1)
    x = np.concatenate([x, 0.6 * x[:2], 1.4 * x[2:]])
    for frame, angle in ((0, 0.03), (1, 3.12)):
        u = x[frame, 2] - x[frame, 1]
        u /= np.linalg.norm(u)
        v = np.cross(u, [0.0, 0.0, 1.0])
        v /= np.linalg.norm(v)
        x[frame, 0] = x[frame, 1] + 3.8 * (np.cos(angle) * u + np.sin(angle) * v)
    return {"x": x, **fitted, **{f"{k}-jax": _jax_reference(p, x) for k, p in fitted.items()}}


FORMS = {
    "parametric": {"bond": {("HarmonicTerm", None)}, "angle": {("HarmonicTerm", None)},
                   "dihedral": {("FourierTerm", None)}, "pair": {("RepulsionTerm", None)}},
    # (form, periodic, harmonic tail)
    "spline": {"bond": {("SplineTerm", False, True)}, "angle": {("SplineTerm", False, False)},
               "dihedral": {("SplineTerm", True, False)}, "pair": {("RepulsionTerm", None)}},
}


def _form(term: object) -> tuple[object, ...]:
    if isinstance(term, SplineTerm):
        return ("SplineTerm", term.periodic, term.tail is not None)
    return (type(term).__name__, None)


def _assert_matches(omm: tuple, reference: tuple) -> None:
    energy, forces, by_kind = reference
    np.testing.assert_allclose(omm[0], energy, rtol=1e-4)
    np.testing.assert_allclose(omm[1], forces, rtol=1e-4, atol=1e-4 * np.abs(forces).max())
    assert set(omm[2]) == set(by_kind) == set(KINDS)
    for kind in KINDS:
        np.testing.assert_allclose(omm[2][kind], by_kind[kind], rtol=1e-4, atol=1e-8,
                                   err_msg=kind)


@pytest.mark.parametrize("name", ["parametric", "spline"])
def test_openmm_matches_jax_prior_per_kind(data, name):
    priors, x = data[name], data["x"]
    # every form the fits produce, with several classes of bead types per kind
    assert {k: {_form(t) for t in terms.values()} for k, terms in priors.terms.items()} \
        == FORMS[name]
    assert all(len(priors.terms[k]) > 1 for k in KINDS)
    _assert_matches(openmm_energies_and_forces(build_system(priors, np.full(7, 12.0)), x),
                    data[f"{name}-jax"])
    if name == "spline":
        # the squeezed and stretched frames leave the bond and angle grids at both ends
        for kind, coordinate in (("bond", geometry.bond_lengths), ("angle", geometry.angles)):
            names, index = priors.topology.classes(kind)
            values = coordinate(x, priors.topology.interactions(kind))[:, index == 0]
            term = priors.terms[kind][names[0]]
            assert values.min() < term.start
            assert values.max() > term.start + (len(term.values) - 1) * term.step


def test_units_of_a_harmonic_bond():
    """1 eV/Å² bond at 1 Å stretched to 2 Å: 0.5 eV = 48.24 kJ/mol and 1 eV/Å = 964.85
    kJ/mol/nm in OpenMM's own units."""
    topology = from_bonds(2, [(0, 1)], 3)
    system = build_system(Priors(topology, KT, {"bond": {"bead-bead": HarmonicTerm(1.0, 1.0)}}),
                          [1.0, 1.0])
    context = openmm.Context(system, openmm.VerletIntegrator(0.001),
                             openmm.Platform.getPlatformByName("Reference"))
    context.setPositions([[0, 0, 0], [0.2, 0, 0]])
    state = context.getState(getEnergy=True, getForces=True)
    assert state.getPotentialEnergy()._value == pytest.approx(48.2426661, rel=1e-6)
    assert state.getPotentialEnergy()._value == pytest.approx(0.5 * EV_TO_KJ_PER_MOL)
    assert state.getForces(asNumpy=True)._value[1, 0] == pytest.approx(-964.853321, rel=1e-6)


def test_export_writes_system_and_pdb(tmp_path, data, capsys):
    priors = data["spline"]
    save_priors(tmp_path / "priors.npz", priors)
    x = data["x"]
    write_frames(tmp_path / "cg.parquet",
                 FrameSet(numbers=[NUMBERS] * len(x), positions=list(x),
                          energy=np.zeros(len(x))))
    out, pdb = tmp_path / "omm" / "system.xml", tmp_path / "omm" / "start.pdb"
    assert main([str(tmp_path / "priors.npz"), str(tmp_path / "cg.parquet"), "-o", str(out),
                 "--pdb", str(pdb)]) == 0
    assert "relative" in capsys.readouterr().out
    system = openmm.XmlSerializer.deserialize(out.read_text())
    # carbon, nitrogen and oxygen masses, as the JAX Langevin run uses
    assert [system.getParticleMass(i)._value for i in (0, 1, 6)] == pytest.approx(
        [12.011, 14.007, 15.999], abs=1e-3)
    _assert_matches(openmm_energies_and_forces(system, x), data["spline-jax"])
    structure = app.PDBFile(str(pdb))
    np.testing.assert_allclose(structure.getPositions(asNumpy=True)._value * 10, x[0], atol=1e-3)
    assert sorted((b[0].index, b[1].index) for b in structure.topology.bonds()) == sorted(BONDS)


def test_bad_inputs_stop_with_one_line(tmp_path, data, capsys):
    priors = data["parametric"]
    with pytest.raises(InputError, match="7 positive bead masses"):
        build_system(priors, [12.0] * 6)
    mixed = dict(priors.terms["bond"], **{"A-B": data["spline"].terms["bond"]["A-B"]})
    with pytest.raises(InputError, match="one form for every class"):
        build_system(dataclasses.replace(priors, terms={**priors.terms, "bond": mixed}),
                     [12.0] * 7)
    fewer = {k: v for k, v in priors.terms["angle"].items() if k != "A-B-A"}
    with pytest.raises(InputError, match=r"no prior term for classes \['A-B-A'\]"):
        build_system(dataclasses.replace(priors, terms={**priors.terms, "angle": fewer}),
                     [12.0] * 7)
    save_priors(tmp_path / "priors.yaml", priors)
    write_frames(tmp_path / "cg.parquet", FrameSet(numbers=[NUMBERS[:6]],
                                                   positions=[data["x"][0, :6]],
                                                   energy=np.zeros(1)))
    assert main([str(tmp_path / "priors.yaml"), str(tmp_path / "cg.parquet"),
                 "-o", str(tmp_path / "system.xml")]) == 1
    err = capsys.readouterr().err
    assert "the 7 beads of" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "system.xml").exists()
