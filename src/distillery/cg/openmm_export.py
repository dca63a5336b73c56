"""The fitted prior as an OpenMM System, to simulate a coarse-grained model with OpenMM.

Every term keeps the units of the prior file (eV, Å, radians); each energy expression converts
its coordinate from OpenMM's nm to Å and its energy from eV to kJ/mol, so the parameters in the
XML are the numbers of priors.yaml. Parametric forms use CustomBondForce (bonds and
non-bonded pairs), CustomAngleForce and CustomTorsionForce; splines use CustomCompoundBondForce
with the cubic of each grid segment as discrete tables, so the interpolation is the JAX prior's
cubic Hermite exactly (OpenMM's own splines are natural cubic splines through the knots, which
the fitted slopes do not follow). Non-bonded pairs are the prior's explicit pair list (beyond
the bond exclusions, no cutoff, no periodic box), as in the JAX energy. Each interaction kind
has its own force group (`FORCE_GROUPS`). Angles are not clipped 5e-4 rad short of 0 and pi as
the JAX energy clips them (to keep its gradient finite). Bead masses are those the JAX Langevin
run uses: the atomic mass of each bead's element.

    python -m distillery.cg.openmm_export priors.npz cg_frames.parquet -o system.xml \
        --pdb start.pdb
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jax
import numpy as np
import openmm
from ase.data import atomic_masses
from openmm import app, unit

from distillery.cg.energy import KINDS, Priors, Term, prior_energy_and_forces
from distillery.cg.serialise import load_priors
from distillery.cg.terms import FourierTerm, HarmonicTerm, RepulsionTerm, SplineTerm
from distillery.data.frames import read_frames
from distillery.data.units import ENERGY_TO_EV, LENGTH_TO_ANGSTROM
from distillery.errors import DistilleryError, InputError
from distillery.io import atomic_write

EV_TO_KJ_PER_MOL = 1.0 / ENERGY_TO_EV["kj/mol"]
ANGSTROM_PER_NM = LENGTH_TO_ANGSTROM["nm"]
FORCE_GROUPS = {kind: group for group, kind in enumerate(KINDS)}
# OpenMM's energy and forces against the JAX prior's, relative to the largest of each
TOLERANCE = 1e-4

# the coordinate of each kind in a standard custom force, and in a compound bond force
_VARIABLE = {"bond": "r", "pair": "r", "angle": "theta", "dihedral": "theta"}
_GEOMETRY = {"bond": "distance(p1, p2)", "pair": "distance(p1, p2)",
             "angle": "angle(p1, p2, p3)", "dihedral": "dihedral(p1, p2, p3, p4)"}
_STANDARD = {"bond": openmm.CustomBondForce, "pair": openmm.CustomBondForce,
             "angle": openmm.CustomAngleForce, "dihedral": openmm.CustomTorsionForce}
# how each force declares a per-interaction parameter and adds an interaction
_METHODS = {openmm.CustomBondForce: ("addPerBondParameter", "addBond"),
            openmm.CustomCompoundBondForce: ("addPerBondParameter", "addBond"),
            openmm.CustomAngleForce: ("addPerAngleParameter", "addAngle"),
            openmm.CustomTorsionForce: ("addPerTorsionParameter", "addTorsion")}


class ExportMismatch(DistilleryError):
    """The exported System does not reproduce the prior's energies or forces."""


@dataclass
class _Form:
    """Terms of one form on a kind: the energy (eV) as an expression of the coordinate X (Å or
    radians) with the intermediate values it uses, the parameters of each class, and tables
    indexed (segment, class)."""

    expression: str
    parameters: tuple[str, ...]
    rows: list[list[float]]
    definitions: tuple[str, ...] = ()
    tables: dict[str, openmm.Discrete2DFunction] = field(default_factory=dict)


def _variant(term: Term) -> tuple[Any, ...]:
    """Terms that can share one energy expression (one force) have the same variant."""
    if isinstance(term, SplineTerm):
        return ("spline", term.periodic, term.tail is not None)
    if isinstance(term, FourierTerm):
        return ("fourier", len(term.a))
    return ("harmonic",) if isinstance(term, HarmonicTerm) else ("repulsion",)


def _harmonic(terms: Sequence[HarmonicTerm]) -> _Form:
    return _Form("0.5*k*(X - x0)^2", ("k", "x0"), [[t.k, t.x0] for t in terms])


def _repulsion(terms: Sequence[RepulsionTerm]) -> _Form:
    return _Form("epsilon*(sigma/X)^exponent", ("epsilon", "sigma", "exponent"),
                 [[t.epsilon, t.sigma, t.exponent] for t in terms])


def _fourier(terms: Sequence[FourierTerm]) -> _Form:
    order = range(1, len(terms[0].a) + 1)
    return _Form(" + ".join(f"a{n}*cos({n}*X) + b{n}*sin({n}*X)" for n in order),
                 (*(f"a{n}" for n in order), *(f"b{n}" for n in order)),
                 [[*t.a, *t.b] for t in terms])


def _segments(term: SplineTerm) -> np.ndarray:
    """Cubic coefficients (segment, power) of `SplineTerm.energy`'s Hermite interpolation in
    the fraction u of each grid step: c0 + c1 u + c2 u^2 + c3 u^3; a periodic spline has a
    last segment back to the first knot."""
    y, m = term.values, term.slopes * term.step
    y1, m1 = (np.roll(y, -1), np.roll(m, -1)) if term.periodic else (y[1:], m[1:])
    y0, m0 = y[: len(y1)], m[: len(y1)]
    return np.stack([y0, m0, 3 * (y1 - y0) - 2 * m0 - m1, 2 * (y0 - y1) + m0 + m1], axis=1)


def _spline(terms: Sequence[SplineTerm]) -> _Form:
    """Knot index i and fraction u on the grid, clipped as `SplineTerm.energy` clips them, and
    the segment's cubic from tables indexed (segment, class)."""
    segments = [_segments(t) for t in terms]
    width = max(len(c) for c in segments)
    coefficients = np.zeros((4, len(terms), width))
    for c, table in enumerate(segments):
        coefficients[:, c, : len(table)] = table.T
    # Discrete2DFunction(xsize, ysize, v) reads v[x + xsize*y]: segment x, class y
    tables = {f"c{p}": openmm.Discrete2DFunction(width, len(terms), table.ravel().tolist())
              for p, table in enumerate(coefficients)}
    cubic = "c0(i, cls) + u*(c1(i, cls) + u*(c2(i, cls) + u*c3(i, cls)))"
    # the grid of a periodic spline spans one period: t wraps into [0, segments)
    wrapped = "t - segments*floor(t/segments)" if terms[0].periodic else "t"
    definitions = ["u = min(max(tw - i, 0), 1)", "i = min(max(floor(tw), 0), segments - 1)",
                   f"tw = {wrapped}", "t = (X - grid0)/h"]
    parameters = ("cls", "grid0", "h", "segments")
    rows = [[c, t.start, t.step, len(table)]
            for c, (t, table) in enumerate(zip(terms, segments, strict=True))]
    if terms[0].tail is None:
        return _Form(cubic, parameters, rows, tuple(definitions), tables)
    # beyond the grid: the harmonic tail, shifted to meet the end knots
    expression = ("select(step(X - grid0), select(step(grid0 + segments*h - X), "
                  "inside, tail + above), tail + below)")
    definitions = ["tail = 0.5*ktail*(X - xtail)^2", f"inside = {cubic}", *definitions]
    for row, t in zip(rows, terms, strict=True):
        hi = t.start + (len(t.values) - 1) * t.step
        row += [t.tail.k, t.tail.x0, t.values[0] - t.tail.energy(t.start),
                t.values[-1] - t.tail.energy(hi)]
    return _Form(expression, (*parameters, "ktail", "xtail", "below", "above"), rows,
                 tuple(definitions), tables)


_FORMS = {"spline": _spline, "fourier": _fourier, "harmonic": _harmonic,
          "repulsion": _repulsion}


def _force(kind: str, form: _Form) -> Any:
    """A custom force of `form`'s energy in kJ/mol of OpenMM's coordinate (nm or radians)."""
    to_project = ANGSTROM_PER_NM if kind in ("bond", "pair") else 1.0
    coordinate = _GEOMETRY[kind] if form.tables else _VARIABLE[kind]
    # OpenMM reads "energy; name = value; ...", each value may use the names defined after it
    expression = "; ".join([f"{EV_TO_KJ_PER_MOL!r}*({form.expression})", *form.definitions,
                            f"X = {to_project!r}*{coordinate}"])
    if form.tables:
        force = openmm.CustomCompoundBondForce(len(_GEOMETRY[kind].split(",")), expression)
        for name, table in form.tables.items():
            force.addTabulatedFunction(name, table)
    else:
        force = _STANDARD[kind](expression)
    for name in form.parameters:
        getattr(force, _METHODS[type(force)][0])(name)
    force.setForceGroup(FORCE_GROUPS[kind])
    force.setName(f"prior {kind}")
    return force


def _add(force: Any, atoms: list[int], parameters: list[float]) -> None:
    add = getattr(force, _METHODS[type(force)][1])
    if isinstance(force, openmm.CustomCompoundBondForce):
        add(atoms, parameters)
    else:
        add(*atoms, parameters)


def build_system(priors: Priors, masses: Sequence[float], source: str = "priors"
                 ) -> openmm.System:
    """The prior as an OpenMM System of beads with `masses` (amu), no periodic box."""
    topology = priors.topology
    if len(masses) != topology.n_beads or not np.all(np.asarray(masses) > 0):
        raise InputError(source, "masses", f"{len(masses)} masses",
                         f"{topology.n_beads} positive bead masses (one per bead)")
    system = openmm.System()
    for mass in masses:
        system.addParticle(float(mass))
    for kind in KINDS:
        table = topology.interactions(kind)
        if not priors.terms.get(kind) or not len(table):
            continue
        names, index = topology.classes(kind)
        missing = sorted(set(names) - set(priors.terms[kind]))
        if missing:
            raise InputError(source, kind, f"no prior term for classes {missing}",
                             "a term for every class of the topology",
                             fix="refit the priors with this topology")
        terms = [priors.terms[kind][n] for n in names]
        variants = {_variant(t) for t in terms}
        if len(variants) > 1:
            # the JAX prior evaluates a kind's classes as one stacked term of one form
            raise InputError(source, kind, f"terms of several forms {sorted(variants, key=str)}",
                             "one form for every class of a kind",
                             fix="refit the priors (cg_fit_priors fits one form per kind)")
        form = _FORMS[variants.pop()[0]](terms)
        force = _force(kind, form)
        for atoms, c in zip(table.tolist(), index.tolist(), strict=True):
            _add(force, atoms, [float(v) for v in form.rows[c]])
        system.addForce(force)
    return system


def bead_masses(numbers: Sequence[int]) -> np.ndarray:
    """Atomic mass (amu) of each bead's element, as the JAX Langevin run uses."""
    return atomic_masses[np.asarray(numbers, dtype=np.int64)]


def openmm_energies_and_forces(system: openmm.System, positions: np.ndarray
                               ) -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]:
    """Energies (eV), forces (eV/Å) and the energy of each interaction kind (its force group)
    of frames (n, n_beads, 3) in Å, on the double precision Reference platform."""
    context = openmm.Context(system, openmm.VerletIntegrator(0.001),
                             openmm.Platform.getPlatformByName("Reference"))
    present = {system.getForce(f).getForceGroup() for f in range(system.getNumForces())}
    kinds = [kind for kind in KINDS if FORCE_GROUPS[kind] in present]
    energies, forces, by_kind = [], [], {kind: [] for kind in kinds}
    for frame in np.asarray(positions, np.float64):
        context.setPositions(frame / ANGSTROM_PER_NM)
        state = context.getState(getEnergy=True, getForces=True)
        energies.append(state.getPotentialEnergy().value_in_unit(unit.kilojoule_per_mole))
        forces.append(state.getForces(asNumpy=True).value_in_unit(
            unit.kilojoule_per_mole / unit.nanometer))
        for kind in kinds:
            state = context.getState(getEnergy=True, groups={FORCE_GROUPS[kind]})
            by_kind[kind].append(state.getPotentialEnergy().value_in_unit(
                unit.kilojoule_per_mole))
    return (np.asarray(energies) / EV_TO_KJ_PER_MOL,
            np.asarray(forces) / (EV_TO_KJ_PER_MOL * ANGSTROM_PER_NM),
            {kind: np.asarray(e) / EV_TO_KJ_PER_MOL for kind, e in by_kind.items()})


def compare_with_prior(system: openmm.System, priors: Priors, positions: np.ndarray
                       ) -> dict[str, float]:
    """Largest energy and force differences between OpenMM and the JAX prior (in double
    precision), each relative to the largest energy or force of the frames."""
    energy, forces, _ = openmm_energies_and_forces(system, positions)
    with jax.enable_x64(True):
        ref_energy, ref_forces = prior_energy_and_forces(priors, np.asarray(positions))
    return {
        "n_frames": len(positions),
        "energy_rel_error": float(np.max(np.abs(energy - ref_energy))
                                  / max(np.max(np.abs(ref_energy)), 1e-30)),
        "force_rel_error": float(np.max(np.abs(forces - ref_forces))
                                 / max(np.max(np.abs(ref_forces)), 1e-30)),
    }


def write_system(path: str | Path, system: openmm.System) -> None:
    with atomic_write(path, "w") as handle:
        handle.write(openmm.XmlSerializer.serialize(system))


def write_pdb(path: str | Path, priors: Priors, numbers: Sequence[int],
              positions: np.ndarray) -> None:
    """One residue per bead, atoms named by bead type (element of `numbers`), bonds as CONECT
    records; positions in Å."""
    top = app.Topology()
    chain = top.addChain()
    types = priors.topology.types or ("B",) * priors.topology.n_beads
    atoms = [top.addAtom(name[:4], app.Element.getByAtomicNumber(int(z)),
                         top.addResidue("CG", chain))
             for name, z in zip(types, numbers, strict=True)]
    for i, j in priors.topology.bonds.tolist():
        top.addBond(atoms[i], atoms[j])
    with atomic_write(path, "w") as handle:
        app.PDBFile.writeFile(top, np.asarray(positions) / ANGSTROM_PER_NM * unit.nanometer,
                              handle)


def export_openmm(priors_path: str | Path, frames_path: str | Path, system_path: str | Path,
                  pdb_path: str | Path | None = None, check_frames: int = 5) -> dict[str, float]:
    """Write the prior of `priors_path` as an OpenMM System (XML) for the beads of the CG
    frames, and their first frame as a PDB; the System must reproduce the JAX prior on the
    first `check_frames` frames. Returns the comparison."""
    priors = load_priors(priors_path)
    frames = read_frames(frames_path)
    numbers = frames.numbers[0]
    if len(numbers) != priors.topology.n_beads:
        raise InputError(frames_path, "numbers", f"{len(numbers)} beads",
                         f"the {priors.topology.n_beads} beads of {priors_path}",
                         fix="pass the CG frames the priors were fitted on")
    system = build_system(priors, bead_masses(numbers), str(priors_path))
    positions = frames.stacked_positions()
    check = compare_with_prior(system, priors, positions[:check_frames])
    if max(check["energy_rel_error"], check["force_rel_error"]) > TOLERANCE:
        raise ExportMismatch(f"{system_path}: the OpenMM System differs from the prior by "
                             f"{check} (tolerance {TOLERANCE}); report this as a bug")
    write_system(system_path, system)
    if pdb_path is not None:
        write_pdb(pdb_path, priors, numbers, positions[0])
    return check


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m distillery.cg.openmm_export",
                                     description="Fitted CG priors as an OpenMM System (XML).")
    parser.add_argument("priors", help="priors.npz (or .yaml/.json) from cg_fit_priors")
    parser.add_argument("frames", help="cg_frames.parquet: bead elements (masses) and a frame")
    parser.add_argument("-o", "--output", required=True, help="System XML to write")
    parser.add_argument("--pdb", default=None, help="also write the first frame as a PDB")
    args = parser.parse_args(argv)
    try:
        check = export_openmm(args.priors, args.frames, args.output, args.pdb)
    except DistilleryError as exc:
        print(f"ERROR: {exc}", file=sys.stderr)
        return 1
    print(f"{args.output}: energies within {check['energy_rel_error']:.2g}, forces within "
          f"{check['force_rel_error']:.2g} (relative) of the prior on {check['n_frames']} frames")
    return 0


if __name__ == "__main__":
    sys.exit(main())
