"""All-atom peptide reference data: Langevin MD of alanine dipeptide with OpenMM and Amber14.

Alanine dipeptide (ACE-ALA-NME, 22 atoms) in GBn2 implicit solvent at 300 K, amber14-all +
implicit/gbn2, LangevinMiddleIntegrator on the CPU platform. Each saved frame holds positions,
forces and the potential energy, written in OpenMM's native units (R nm, E kJ/mol, F kJ/mol/nm)
so that ingest with units {energy: kJ/mol, length: nm} exercises unit conversion; the NPZ names
the topology PDB it belongs to under `topology`.

Constraints. Bonds to hydrogen are constrained (HBonds) so that 2 fs steps are stable. The
saved forces are those of the force field, -dU/dR, without constraint forces; constraints only
change which configurations are sampled (X-H bond lengths fixed at their equilibrium value).
For coarse-graining this is harmless when every hydrogen is mapped to the bead of the heavy atom
it is bonded to: the constraint force acts along the X-H bond inside one bead, cancels in the
bead's summed force, and the mapped forces are the mean forces force matching needs. A mapping
that puts a hydrogen and its heavy atom in different beads would need the constraint forces
too; an all-atom force field trained on these frames never sees X-H stretching. Set
`constraints: none` (with `timestep_fs` <= 1) for unconstrained reference data.

The shipped topology data/topologies/alanine_dipeptide.pdb was made by `build_topology`:
standard residue and atom names (wwPDB/OpenMM: ACE CH3 C O H1-H3, ALA N H CA HA CB HB1-HB3 C O,
NME N H C H1-H3), a trans, extended backbone, minimised with the same force field.
"""

from __future__ import annotations

import io
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import Field, model_validator

from distillery.base_settings import Settings
from distillery.data.generate import shipped_file
from distillery.io import atomic_write

TOPOLOGY = "data/topologies/alanine_dipeptide.pdb"
# basins of the Ramachandran plot (degrees), as usually drawn for alanine dipeptide
BASINS = {
    "beta_C7eq": "phi < 0 and (psi >= 50 or psi < -150)",
    "alpha_R": "phi < 0 and -150 <= psi < 50",
    "alpha_L_C7ax": "phi >= 0",
}


class OpenmmPeptideSettings(Settings):
    """`generate:` block of a dataset made by OpenMM molecular dynamics of a peptide."""

    kind: Literal["openmm_peptide"] = "openmm_peptide"
    """Generator: OpenMM Langevin MD of a peptide."""
    topology: str = TOPOLOGY
    """PDB of the peptide (relative to the working directory or the repository)."""
    forcefield: tuple[str, ...] = ("amber14-all.xml", "implicit/gbn2.xml")
    """OpenMM force-field files (the force field and its implicit solvent)."""
    temperature: float = Field(300.0, gt=0)
    """Temperature in K; the dataset's `temperature` replaces it unless this block sets it."""
    timestep_fs: float = Field(2.0, gt=0, le=4.0)
    """Time step in fs (at most 1 without constraints)."""
    friction: float = Field(1.0, gt=0)
    """Langevin friction in 1/ps."""
    constraints: Literal["HBonds", "none"] = "HBonds"
    """HBonds: bonds to hydrogen held at their length; none: unconstrained."""
    stride: int = Field(250, ge=1)
    """MD steps between saved frames (0.5 ps at 2 fs)."""
    n_frames: int = Field(1000, ge=1)
    """Saved frames (1000 x 0.5 ps = 500 ps)."""
    equilibration: int = Field(10_000, ge=0)
    """MD steps before the first frame."""
    platform: Literal["CPU", "Reference", "CUDA", "OpenCL"] = "CPU"
    """OpenMM platform that runs the MD."""
    threads: int = Field(1, ge=1)
    """CPU platform threads."""
    shipped: str | None = None
    """An NPZ this generator wrote earlier with these settings (e.g. one shipped in data/):
    ingest reads it instead of simulating again; null: simulate in the run."""

    @model_validator(mode="after")
    def _stable_step(self) -> OpenmmPeptideSettings:
        if self.constraints == "none" and self.timestep_fs > 1.0:
            raise ValueError("without constraints on bonds to hydrogen use timestep_fs <= 1")
        return self


def _system(settings: OpenmmPeptideSettings, topology: Any) -> Any:
    from openmm import app

    forcefield = app.ForceField(*settings.forcefield)
    constraints = app.HBonds if settings.constraints == "HBonds" else None
    return forcefield.createSystem(topology, nonbondedMethod=app.NoCutoff,
                                   constraints=constraints)


def _context(settings: OpenmmPeptideSettings, topology: Any, positions: Any,
             seed: int) -> Any:
    import openmm
    from openmm import unit

    integrator = openmm.LangevinMiddleIntegrator(
        settings.temperature * unit.kelvin, settings.friction / unit.picosecond,
        settings.timestep_fs * unit.femtosecond)
    # OpenMM treats 0 as "pick a random seed"
    integrator.setRandomNumberSeed(seed + 1)
    platform = openmm.Platform.getPlatformByName(settings.platform)
    properties = {"Threads": str(settings.threads)} if settings.platform == "CPU" else {}
    context = openmm.Context(_system(settings, topology), integrator, platform, properties)
    context.setPositions(positions)
    return context


def simulate(
    settings: OpenmmPeptideSettings | None = None,
    seed: int = 0,
    log: Callable[[str], None] = print,
) -> dict[str, np.ndarray]:
    """Langevin MD; positions nm, energies kJ/mol (n,), forces kJ/mol/nm, atomic numbers."""
    import openmm
    from openmm import app, unit

    settings = settings or OpenmmPeptideSettings()
    pdb = app.PDBFile(str(shipped_file(settings.topology)))
    context = _context(settings, pdb.topology, pdb.positions, seed)
    openmm.LocalEnergyMinimizer.minimize(context, 1.0, 200)
    context.setVelocitiesToTemperature(settings.temperature * unit.kelvin, seed + 1)
    integrator = context.getIntegrator()
    start = time.perf_counter()
    integrator.step(settings.equilibration)
    n_atoms = pdb.topology.getNumAtoms()
    positions = np.empty((settings.n_frames, n_atoms, 3))
    forces = np.empty_like(positions)
    energies = np.empty(settings.n_frames)
    kj, nm = unit.kilojoule_per_mole, unit.nanometer
    for frame in range(settings.n_frames):
        integrator.step(settings.stride)
        state = context.getState(positions=True, forces=True, energy=True)
        positions[frame] = state.getPositions(asNumpy=True).value_in_unit(nm)
        forces[frame] = state.getForces(asNumpy=True).value_in_unit(kj / nm)
        energies[frame] = state.getPotentialEnergy().value_in_unit(kj)
        if (frame + 1) % 500 == 0:
            ps = (frame + 1) * settings.stride * settings.timestep_fs / 1000
            log(f"openmm_peptide: {frame + 1}/{settings.n_frames} frames ({ps:.0f} ps), "
                f"{time.perf_counter() - start:.1f} s")
    numbers = np.array([a.element.atomic_number for a in pdb.topology.atoms()], np.int64)
    return {"R": positions, "z": numbers, "E": energies, "F": forces}


def backbone_dihedrals(positions_nm: np.ndarray, topology: str | Path = TOPOLOGY,
                       ) -> tuple[np.ndarray, np.ndarray]:
    """φ and ψ in degrees of every frame (mdtraj), for frames of the given topology."""
    import mdtraj

    top = mdtraj.load_topology(str(shipped_file(topology)))
    trajectory = mdtraj.Trajectory(np.asarray(positions_nm, np.float32), top)
    phi = np.degrees(mdtraj.compute_phi(trajectory)[1][:, 0])
    psi = np.degrees(mdtraj.compute_psi(trajectory)[1][:, 0])
    return phi, psi


def basin_populations(phi: np.ndarray, psi: np.ndarray) -> dict[str, float]:
    """Fractions of frames in the β/C7eq, αR and αL/C7ax basins (definitions in BASINS)."""
    beta = (phi < 0) & ((psi >= 50) | (psi < -150))
    alpha_r = (phi < 0) & (psi >= -150) & (psi < 50)
    return {"beta_C7eq": float(beta.mean()), "alpha_R": float(alpha_r.mean()),
            "alpha_L_C7ax": float((phi >= 0).mean())}


def write_npz(path: str | Path, arrays: dict[str, np.ndarray], topology: str) -> None:
    """Compressed, float32 labels: nanoseconds of 1 ps frames stay a few MB (float32 keeps
    positions to 1e-7 nm, far below thermal motion)."""
    labels = {k: v.astype(np.float32) if v.dtype.kind == "f" else v for k, v in arrays.items()}
    with atomic_write(path) as handle:
        np.savez_compressed(handle, **labels, topology=np.array(topology),
                            units=np.array("energy kJ/mol, length nm, forces kJ/mol/nm"))


def generate(path: str | Path, settings: OpenmmPeptideSettings, seed: int,
             log: Callable[[str], None] = print) -> dict[str, Any]:
    """Simulate, write the NPZ and return a provenance record with the φ/ψ basin populations."""
    arrays = simulate(settings, seed, log)
    write_npz(path, arrays, settings.topology)
    phi, psi = backbone_dihedrals(arrays["R"], settings.topology)
    return {"generator": settings.kind, "seed": seed, **settings.model_dump(),
            "units": {"energy": "kJ/mol", "length": "nm"},
            "simulated_ps": settings.n_frames * settings.stride * settings.timestep_fs / 1000,
            "basins": BASINS, "basin_populations": basin_populations(phi, psi)}


# --- the shipped topology -------------------------------------------------------------------

def _place(a: np.ndarray, b: np.ndarray, c: np.ndarray, bond: float, angle: float,
           torsion: float) -> np.ndarray:
    """Atom d bonded to c with angle b-c-d and torsion a-b-c-d (degrees), natural extension."""
    angle, torsion = np.radians(angle), np.radians(torsion)
    bc = (c - b) / np.linalg.norm(c - b)
    n = np.cross(b - a, bc)
    n /= np.linalg.norm(n)
    m = np.cross(n, bc)
    d = np.array([-bond * np.cos(angle), bond * np.sin(angle) * np.cos(torsion),
                  bond * np.sin(angle) * np.sin(torsion)])
    return c + d[0] * bc + d[1] * m + d[2] * n


def _heavy_atoms(phi: float, psi: float) -> dict[tuple[str, str], np.ndarray]:
    """Heavy atoms of ACE-ALA-NME in Å from standard bond lengths and angles (L-alanine)."""
    ch3 = np.zeros(3)
    c0 = np.array([1.52, 0.0, 0.0])
    n1 = c0 + 1.33 * np.array([np.cos(np.radians(64.0)), np.sin(np.radians(64.0)), 0.0])
    o0 = _place(n1, ch3, c0, 1.23, 121.0, 180.0)
    ca = _place(ch3, c0, n1, 1.46, 122.0, 180.0)
    c1 = _place(c0, n1, ca, 1.52, 111.0, phi)
    # L-alanine: the torsion C(-1)-N-CA-CB is phi - 120 degrees
    cb = _place(c0, n1, ca, 1.53, 110.0, phi - 120.0)
    o1 = _place(n1, ca, c1, 1.23, 121.0, psi + 180.0)
    n2 = _place(n1, ca, c1, 1.33, 116.0, psi)
    c2 = _place(ca, c1, n2, 1.46, 122.0, 180.0)
    return {("ACE", "CH3"): ch3, ("ACE", "C"): c0, ("ACE", "O"): o0, ("ALA", "N"): n1,
            ("ALA", "CA"): ca, ("ALA", "CB"): cb, ("ALA", "C"): c1, ("ALA", "O"): o1,
            ("NME", "N"): n2, ("NME", "C"): c2}


def build_topology(path: str | Path = TOPOLOGY, phi: float = -150.0, psi: float = 150.0,
                   forcefield: tuple[str, ...] = ("amber14-all.xml", "implicit/gbn2.xml"),
                   ) -> None:
    """Write alanine dipeptide as a PDB: heavy atoms from internal coordinates, hydrogens
    added by OpenMM's Modeller, then minimised with `forcefield`."""
    import openmm
    from openmm import app, unit

    heavy = _heavy_atoms(phi, psi)
    topology = app.Topology()
    chain = topology.addChain()
    residues = {name: topology.addResidue(name, chain) for name in ("ACE", "ALA", "NME")}
    for (residue, name), _ in heavy.items():
        topology.addAtom(name, app.Element.getBySymbol(name[0]), residues[residue])
    topology.createStandardBonds()
    modeller = app.Modeller(topology, [openmm.Vec3(*x) for x in heavy.values()] * unit.angstrom)
    ff = app.ForceField(*forcefield)
    modeller.addHydrogens(ff)
    system = ff.createSystem(modeller.topology, nonbondedMethod=app.NoCutoff)
    context = openmm.Context(system, openmm.VerletIntegrator(0.001),
                             openmm.Platform.getPlatformByName("Reference"))
    context.setPositions(modeller.positions)
    openmm.LocalEnergyMinimizer.minimize(context, 0.1, 5000)
    positions = context.getState(positions=True).getPositions()
    text = io.StringIO()
    app.PDBFile.writeFile(modeller.topology, positions, text, keepIds=False)
    # a remark naming the force field instead of OpenMM's dated one
    lines = [line for line in text.getvalue().splitlines() if not line.startswith("REMARK")]
    remark = f"REMARK   1 ALANINE DIPEPTIDE ACE-ALA-NME, {'+'.join(forcefield)} MINIMUM"
    with atomic_write(path, "w") as handle:
        handle.write("\n".join([remark, *lines]) + "\n")
