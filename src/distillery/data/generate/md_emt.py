"""Reference force-field data: Langevin MD of a periodic Cu/Au alloy with ASE's EMT."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from ase import units
from ase.calculators.emt import EMT
from ase.lattice.cubic import FaceCenteredCubic
from ase.md.langevin import Langevin
from ase.md.velocitydistribution import MaxwellBoltzmannDistribution

from distillery.data.settings import MdEmtGenerate
from distillery.io import atomic_write


def simulate_alloy(settings: MdEmtGenerate, seed: int) -> dict[str, np.ndarray]:
    """MD17-style arrays: R (n,N,3) Å, z (N,), E (n,) eV, F (n,N,3) eV/Å, cell, pbc."""
    size, temperature = settings.size, settings.temperature
    rng = np.random.default_rng(seed)
    atoms = FaceCenteredCubic("Cu", size=(size, size, size), latticeconstant=3.7)
    gold = rng.choice(len(atoms), int(round(settings.gold_fraction * len(atoms))),
                      replace=False)
    numbers = atoms.get_atomic_numbers()
    numbers[gold] = 79
    atoms.set_atomic_numbers(numbers)
    atoms.calc = EMT()
    MaxwellBoltzmannDistribution(atoms, temperature_K=temperature, rng=rng)
    dyn = Langevin(atoms, settings.timestep_fs * units.fs, temperature_K=temperature,
                   friction=0.02, fixcm=False, rng=rng)
    dyn.run(settings.equilibration)
    n_frames = settings.n_frames
    positions, energies, forces = [], [], []
    for frame in range(n_frames):
        dyn.run(settings.stride)
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
