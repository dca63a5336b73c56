"""Reference force-field data: Langevin MD of a periodic Cu/Au alloy with ASE's EMT."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from ase import units
from ase.calculators.emt import EMT
from ase.lattice.cubic import FaceCenteredCubic
from ase.md.langevin import Langevin
from ase.md.velocitydistribution import MaxwellBoltzmannDistribution

from distillery.io import atomic_write


def simulate_alloy(
    n_frames: int = 300,
    size: int = 3,
    gold_fraction: float = 0.25,
    temperature: float = 800.0,
    timestep_fs: float = 2.0,
    stride: int = 10,
    equilibration: int = 200,
    seed: int = 0,
) -> dict[str, np.ndarray]:
    """MD17-style arrays: R (n,N,3) Å, z (N,), E (n,) eV, F (n,N,3) eV/Å, cell, pbc."""
    rng = np.random.default_rng(seed)
    atoms = FaceCenteredCubic("Cu", size=(size, size, size), latticeconstant=3.7)
    gold = rng.choice(len(atoms), int(round(gold_fraction * len(atoms))), replace=False)
    numbers = atoms.get_atomic_numbers()
    numbers[gold] = 79
    atoms.set_atomic_numbers(numbers)
    atoms.calc = EMT()
    MaxwellBoltzmannDistribution(atoms, temperature_K=temperature, rng=rng)
    dyn = Langevin(atoms, timestep_fs * units.fs, temperature_K=temperature, friction=0.02,
                   fixcm=False,
                   rng=rng)
    dyn.run(equilibration)
    positions, energies, forces = [], [], []
    for frame in range(n_frames):
        dyn.run(stride)
        positions.append(atoms.get_positions(wrap=True))
        energies.append(atoms.get_potential_energy())
        forces.append(atoms.get_forces())
        if (frame + 1) % 50 == 0:
            print(f"md_emt: {frame + 1}/{n_frames} frames", flush=True)
    return {
        "R": np.array(positions), "z": atoms.get_atomic_numbers(), "E": np.array(energies),
        "F": np.array(forces), "cell": atoms.cell.array.copy(), "pbc": atoms.pbc.copy(),
    }


def write_npz(path: str | Path, arrays: dict[str, np.ndarray]) -> None:
    with atomic_write(path) as handle:
        np.savez(handle, **arrays)
