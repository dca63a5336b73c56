"""A Morse toy system with analytic energies and forces for force-field tests."""

from __future__ import annotations

import numpy as np
from ase.calculators.calculator import Calculator, all_changes

from distillery.data.frames import FrameSet
from distillery.potentials.neighbours import neighbour_list

DEPTH, WIDTH, R0, CUTOFF = 0.5, 1.5, 2.5, 4.0


def morse(positions: np.ndarray, cell: np.ndarray | None, pbc: np.ndarray | None
          ) -> tuple[float, np.ndarray]:
    """Energy and analytic forces of a Morse pair potential (cut at CUTOFF, shifted to zero)."""
    nb = neighbour_list(positions, CUTOFF, cell, pbc)
    shift_vec = nb.shifts @ (cell if cell is not None else np.zeros((3, 3)))
    vec = positions[nb.senders] - positions[nb.receivers] + shift_vec
    r = np.linalg.norm(vec, axis=1)
    x = np.exp(-WIDTH * (r - R0))
    xc = np.exp(-WIDTH * (CUTOFF - R0))
    energy = 0.5 * np.sum(DEPTH * (1 - x) ** 2 - DEPTH * (1 - xc) ** 2)
    de_dr = 2 * DEPTH * (1 - x) * WIDTH * x
    # each directed edge j->i adds dE/dr * unit vector to atom i (pairs appear twice, halved)
    forces = np.zeros_like(positions)
    np.add.at(forces, nb.receivers, (de_dr / r)[:, None] * vec)
    return float(energy), forces


def composition_energy(numbers: np.ndarray) -> float:
    """The per-element energy offsets of the toy labels (Cu 0.1 eV, Au -0.2 eV)."""
    return 0.1 * np.sum(numbers == 29) - 0.2 * np.sum(numbers == 79)


class MorseCalculator(Calculator):
    """The toy labels as an ASE calculator: an analytic teacher equal to the reference."""

    implemented_properties = ("energy", "forces")

    def calculate(self, atoms=None, properties=("energy",), system_changes=all_changes) -> None:
        super().calculate(atoms, properties, system_changes)
        periodic = bool(self.atoms.pbc.any())
        energy, forces = morse(self.atoms.positions, self.atoms.cell.array if periodic else None,
                               self.atoms.pbc if periodic else None)
        self.results = {"energy": energy + composition_energy(self.atoms.numbers),
                        "forces": forces}


def toy_frames(n_frames: int, seed: int = 0, periodic: bool = True, n_side: int = 2,
               noise: float = 0.15) -> FrameSet:
    """Jittered simple-cubic two-element crystals (periodic) or clusters, Morse-labelled."""
    rng = np.random.default_rng(seed)
    spacing = 2.6
    grid = np.stack(np.meshgrid(*[np.arange(n_side)] * 3, indexing="ij"), -1).reshape(-1, 3)
    base = grid * spacing
    cell = np.eye(3) * spacing * n_side
    numbers, positions, energies, forces = [], [], [], []
    for _ in range(n_frames):
        pos = base + rng.normal(scale=noise, size=base.shape)
        z = np.where(rng.random(len(base)) < 0.5, 29, 79).astype(np.int64)
        e, f = morse(pos, cell if periodic else None, np.ones(3, bool) if periodic else None)
        numbers.append(z)
        positions.append(pos)
        energies.append(e + composition_energy(z))
        forces.append(f)
    return FrameSet(
        numbers=numbers, positions=positions, energy=np.array(energies), forces=forces,
        cell=np.repeat(cell[None], n_frames, 0) if periodic else None,
        pbc=np.ones((n_frames, 3), bool) if periodic else None)
