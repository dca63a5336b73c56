"""Reference force-field data: Langevin MD of a periodic crystal built by ASE, driven by any
ASE calculator, e.g. a foundation model that is also the dataset's teacher (its own MD then
gives the test frames)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

import numpy as np
from ase import Atoms, units
from ase.build import bulk
from ase.md.langevin import Langevin
from ase.md.velocitydistribution import MaxwellBoltzmannDistribution
from pydantic import Field, PositiveFloat, PositiveInt

from distillery.base_settings import Settings
from distillery.imports import import_object
from distillery.io import atomic_write


class MdCrystalSettings(Settings):
    """`generate:` block of a dataset made by Langevin MD of an ASE-built crystal under an ASE
    calculator given by import path (the same form as `forcefield.teacher.calculator`)."""

    kind: Literal["md_crystal"] = "md_crystal"
    """Generator: Langevin MD of an ASE-built periodic crystal with any ASE calculator."""
    element: str = "Si"
    """Chemical symbol of the crystal (`ase.build.bulk`)."""
    structure: Literal["sc", "fcc", "bcc", "diamond", "zincblende", "rocksalt"] = "diamond"
    """Crystal structure (`ase.build.bulk`)."""
    lattice_constant: PositiveFloat = 5.43
    """Cubic lattice constant in Å (5.43: silicon)."""
    repeat: PositiveInt = 2
    """Cubic unit cells along each edge (diamond: 8 atoms each, 64 atoms at 2)."""
    calculator: str
    """ASE calculator as `package.module:Class`, e.g. `chgnet.model.dynamics:CHGNetCalculator`,
    `sevenn.calculator:SevenNetCalculator` or `ase.calculators.emt:EMT` (fcc metals only)."""
    kwargs: dict[str, Any] = Field(default_factory=dict)
    """Keyword arguments the calculator is built with."""
    temperature: PositiveFloat = 1000.0
    """Temperature in K; the dataset's `temperature` replaces it unless this block sets it."""
    timestep_fs: PositiveFloat = 2.0
    """Time step in fs."""
    friction: PositiveFloat = 0.01
    """Langevin friction in 1/fs."""
    stride: int = Field(10, ge=1)
    """MD steps between saved frames."""
    n_frames: int = Field(50, ge=10)
    """Saved frames."""
    equilibration: int = Field(100, ge=0)
    """MD steps before the first frame (from the perfect crystal)."""


def crystal(settings: MdCrystalSettings) -> Atoms:
    """The periodic cell: `repeat`^3 cubic unit cells."""
    cell = bulk(settings.element, settings.structure, a=settings.lattice_constant, cubic=True)
    return cell.repeat(settings.repeat)


def simulate(settings: MdCrystalSettings, seed: int, log: Callable[[str], None] = print
             ) -> dict[str, np.ndarray]:
    """MD17-style arrays: R (n,N,3) Å, z (N,), E (n,) eV, F (n,N,3) eV/Å, cell, pbc."""
    rng = np.random.default_rng(seed)
    atoms = crystal(settings)
    cls = import_object(settings.calculator, "generate.calculator")
    atoms.calc = cls(**settings.kwargs)
    MaxwellBoltzmannDistribution(atoms, temperature_K=settings.temperature, rng=rng)
    dyn = Langevin(atoms, settings.timestep_fs * units.fs, temperature_K=settings.temperature,
                   friction=settings.friction / units.fs, fixcm=False, rng=rng)
    dyn.run(settings.equilibration)
    positions, energies, forces = [], [], []
    for frame in range(settings.n_frames):
        dyn.run(settings.stride)
        positions.append(atoms.get_positions(wrap=True))
        energies.append(atoms.get_potential_energy())
        forces.append(atoms.get_forces())
        if (frame + 1) % 10 == 0:
            log(f"md_crystal: {frame + 1}/{settings.n_frames} frames, "
                f"T {atoms.get_temperature():.0f} K")
    return {
        "R": np.array(positions), "z": atoms.get_atomic_numbers(), "E": np.array(energies),
        "F": np.array(forces), "cell": atoms.cell.array.copy(), "pbc": atoms.pbc.copy(),
    }


def generate(path: str | Path, settings: MdCrystalSettings, seed: int,
             log: Callable[[str], None] = print) -> dict[str, Any]:
    """Simulate, write the NPZ (eV, Å) and return a provenance record."""
    arrays = simulate(settings, seed, log)
    with atomic_write(path) as handle:
        np.savez(handle, **arrays)
    return {"generator": settings.kind, "seed": seed, **settings.model_dump(mode="json"),
            "n_atoms": len(arrays["z"])}
