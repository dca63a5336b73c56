"""Reference molecular data from a quantum-chemistry method: GFN2-xTB Langevin MD of a molecule.

Like MD17 (ab-initio MD of small organic molecules at 500 K), with tblite's GFN2-xTB in place of
DFT so that ~1000 frames take well under a minute on one CPU core. Output is written exactly in
the MD17 layout

    E (n, 1) float64 kcal/mol, F (n, N, 3) kcal/mol/Å, R (n, N, 3) Å, z (N,) int64,
    name, theory, md5, type: strings (md5 as sGDML computes it from z, R, E, F; type 'd')

or in the revised-MD17 layout (`nuclear_charges, coords, energies, forces, old_indices,
old_energies, old_forces`). Both ingest with units {energy: kcal/mol, length: angstrom}.

The molecule is an ase.build.molecule name (g2 set, e.g. CH3CH2OH, or a common name listed in
`COMMON_NAMES`), a file shipped under data/molecules/ (malonaldehyde) or a path to any
structure file ASE reads.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

import numpy as np
from ase import Atoms, units
from ase.build import molecule as ase_molecule
from ase.collections import g2
from ase.constraints import FixCom
from ase.io import read
from ase.md.langevin import Langevin
from ase.md.velocitydistribution import Stationary, ZeroRotation, thermalize_momenta
from pydantic import Field

from distillery.base_settings import Settings
from distillery.data.generate import shipped_file
from distillery.errors import InputError
from distillery.io import atomic_write

KCAL_PER_MOL = units.kcal / units.mol  # eV
COMMON_NAMES = {"ethanol": "CH3CH2OH", "methanol": "CH3OH", "water": "H2O", "benzene": "C6H6",
                "acetaldehyde": "CH3CHO", "formaldehyde": "H2CO", "ammonia": "NH3",
                "methane": "CH4", "acetic_acid": "CH3COOH", "formic_acid": "HCOOH"}
MOLECULE_DIR = "data/molecules"
MD17_KEYS = ("E", "F", "R", "z", "name", "theory", "md5", "type")
RMD17_KEYS = ("nuclear_charges", "coords", "energies", "forces", "old_indices",
              "old_energies", "old_forces")


class XtbMoleculeSettings(Settings):
    """`generate:` block of a dataset made by GFN-xTB molecular dynamics."""

    kind: Literal["xtb_molecule"] = "xtb_molecule"
    """Generator: xTB-labelled Langevin MD of a molecule."""
    molecule: str = "ethanol"
    """An ase.build.molecule (g2) or common name, a file in data/molecules/ or a structure
    file."""
    method: Literal["GFN2-xTB", "GFN1-xTB", "IPEA1-xTB"] = "GFN2-xTB"
    """The tblite method that labels the frames."""
    temperature: float = Field(500.0, gt=0)
    """Temperature in K (MD17's); the dataset's `temperature` replaces it unless this block
    sets it."""
    timestep_fs: float = Field(0.5, gt=0, le=2.0)
    """Time step in fs (MD17 used 0.5 fs)."""
    friction: float = Field(0.01, gt=0)
    """Langevin friction in 1/fs."""
    stride: int = Field(10, ge=1)
    """MD steps between saved frames."""
    n_frames: int = Field(1000, ge=1)
    """Saved frames."""
    equilibration: int = Field(500, ge=0)
    """MD steps before the first frame."""
    layout: Literal["md17", "rmd17"] = "md17"
    """Layout of the written NPZ: MD17 or revised MD17."""
    threads: int = Field(1, ge=1)
    """OpenMP threads; one is fastest for ~10 atoms."""


def load_molecule(name: str) -> Atoms:
    """Atoms for a g2 name, a common name, a file in data/molecules/ or a structure file."""
    if name in COMMON_NAMES or name in g2.names:
        return ase_molecule(COMMON_NAMES.get(name, name))
    for candidate in (Path(name), shipped_file(f"{MOLECULE_DIR}/{name}.xyz")):
        path = shipped_file(candidate)
        if path.is_file():
            return read(path, index=0)
    raise InputError("config", "generate.molecule", repr(name),
                     f"an ase.build.molecule name (g2), one of {sorted(COMMON_NAMES)}, "
                     f"a file in {MOLECULE_DIR}/ or a path to a structure file")


def _openmp_threads(n: int) -> Any:
    # tblite parallelises with OpenMP; on a busy machine several threads on a molecule of ten
    # atoms are ~100x slower than one
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # optional: without it OMP_NUM_THREADS decides
        import contextlib
        return contextlib.nullcontext()
    return threadpool_limits(limits=n, user_api="openmp")


def simulate(
    settings: XtbMoleculeSettings | None = None,
    seed: int = 0,
    log: Callable[[str], None] = print,
) -> dict[str, np.ndarray]:
    """Langevin MD labelled by xTB; positions Å, energies eV (n,), forces eV/Å, numbers."""
    from tblite.ase import TBLite  # imported here: loading it starts the OpenMP runtime

    settings = settings or XtbMoleculeSettings()
    atoms = load_molecule(settings.molecule)
    rng = np.random.default_rng(seed)
    positions, energies, forces = [], [], []
    start = time.perf_counter()
    with _openmp_threads(settings.threads):
        atoms.calc = TBLite(method=settings.method, verbosity=0)
        thermalize_momenta(atoms, settings.temperature, rng=rng)
        Stationary(atoms)
        ZeroRotation(atoms)
        atoms.set_constraint(FixCom())
        dyn = Langevin(atoms, settings.timestep_fs * units.fs,
                       temperature_K=settings.temperature,
                       friction=settings.friction / units.fs, fixcm=False, rng=rng)
        dyn.run(settings.equilibration)
        for frame in range(settings.n_frames):
            dyn.run(settings.stride)
            # the step ended with a force call at these positions: energy and forces are cached
            positions.append(atoms.get_positions())
            energies.append(atoms.get_potential_energy())
            # the labels are -dE/dR, not the forces FixCom leaves for the integrator
            forces.append(atoms.get_forces(apply_constraint=False))
            if (frame + 1) % 200 == 0:
                log(f"xtb_molecule: {frame + 1}/{settings.n_frames} frames, "
                    f"{time.perf_counter() - start:.1f} s")
    return {"positions": np.array(positions), "energy": np.array(energies),
            "forces": np.array(forces), "numbers": atoms.get_atomic_numbers().astype(np.int64)}


def dataset_md5(arrays: dict[str, np.ndarray]) -> str:
    """The fingerprint sGDML stores in MD17 files: md5 over the md5s of z, R, E and F."""
    digest = hashlib.md5()
    for key in ("z", "R", "E", "F"):
        digest.update(hashlib.md5(np.ascontiguousarray(arrays[key]).ravel()).digest())
    return digest.hexdigest()


def md17_arrays(trajectory: dict[str, np.ndarray], name: str,
                theory: str = "GFN2-xTB") -> dict[str, np.ndarray]:
    """A trajectory in eV and Å as the arrays of an MD17 file (kcal/mol, Å)."""
    arrays = {
        "E": (np.asarray(trajectory["energy"], np.float64) / KCAL_PER_MOL).reshape(-1, 1),
        "F": np.asarray(trajectory["forces"], np.float64) / KCAL_PER_MOL,
        "R": np.asarray(trajectory["positions"], np.float64),
        "z": np.asarray(trajectory["numbers"], np.int64),
    }
    return {**arrays, "name": np.array(name), "theory": np.array(theory),
            "md5": np.array(dataset_md5(arrays)), "type": np.array("d")}


def rmd17_arrays(md17: dict[str, np.ndarray],
                 indices: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """The revised-MD17 layout of `md17` frames at `indices` (all by default).

    rMD17 recomputed a subset of MD17 frames; `old_*` hold the original labels of those frames.
    Here the labels are the same calculation, so old and new agree.
    """
    idx = np.arange(len(md17["R"])) if indices is None else np.asarray(indices, np.int64)
    return {
        "nuclear_charges": md17["z"], "coords": md17["R"][idx],
        "energies": md17["E"][idx, 0], "forces": md17["F"][idx],
        "old_indices": idx, "old_energies": md17["E"][idx, 0], "old_forces": md17["F"][idx],
    }


def write_npz(path: str | Path, arrays: dict[str, np.ndarray]) -> None:
    """Uncompressed like the published files; strings are plain unicode arrays (no pickle)."""
    with atomic_write(path) as handle:
        np.savez(handle, **arrays)


def generate(path: str | Path, settings: XtbMoleculeSettings, seed: int,
             log: Callable[[str], None] = print) -> dict[str, Any]:
    """Simulate, write the NPZ in the chosen layout and return a provenance record."""
    trajectory = simulate(settings, seed, log)
    name = Path(settings.molecule).stem if settings.molecule not in COMMON_NAMES else \
        settings.molecule
    arrays = md17_arrays(trajectory, name, settings.method)
    write_npz(path, arrays if settings.layout == "md17" else rmd17_arrays(arrays))
    return {"generator": settings.kind, "seed": seed, **settings.model_dump(),
            "calculator": f"tblite.ase.TBLite(method={settings.method!r})",
            "units": {"energy": "kcal/mol", "length": "angstrom"},
            "n_atoms": len(trajectory["numbers"])}
