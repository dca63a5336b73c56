"""Extended XYZ files (via ASE) to a FrameSet."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np
from ase.io import read

from distillery.data.frames import FrameSet
from distillery.data.npz import check_finite
from distillery.data.units import energy_factor, force_factor, length_factor
from distillery.errors import InputError, reason


def read_extxyz(path: str | Path, units: Mapping[str, str] | None = None) -> FrameSet:
    """Read every frame; energies/forces come from the file's calculator fields when present."""
    source = str(path)
    units = dict(units or {})
    try:
        frames = read(source, index=":", format="extxyz")
    except Exception as exc:  # ASE raises many types for malformed text
        raise InputError(source, "file", f"unparseable extended XYZ ({reason(exc)})",
                         "an extended XYZ file (atom count, comment line, atom lines)") from None
    if not frames:
        raise InputError(source, "file", "no frames", "at least one frame")
    length = length_factor(units.get("length", "angstrom"), source)
    e_factor = energy_factor(units.get("energy", "eV"), source)
    default = f"{units.get('energy', 'eV')}/{units.get('length', 'angstrom')}"
    f_factor = force_factor(units.get("forces", default), source)

    energies, forces = [], []
    for i, atoms in enumerate(frames):
        calc = atoms.calc
        results = getattr(calc, "results", {}) if calc is not None else {}
        energy = results.get("energy", atoms.info.get("energy"))
        force = results.get("forces", atoms.arrays.get("forces"))
        try:
            energies.append(np.nan if energy is None else float(energy))
        except (TypeError, ValueError):
            raise InputError(source, f"energy (frame {i})", repr(energy), "a number") from None
        if force is not None and np.shape(force) != (len(atoms), 3):
            raise InputError(source, f"forces (frame {i})", f"shape {np.shape(force)}",
                             f"({len(atoms)}, 3)")
        forces.append(force)

    positions = [a.get_positions() * length for a in frames]
    for i, pos in enumerate(positions):
        check_finite(pos[None], source, f"positions (frame {i})")
    fs = FrameSet(numbers=[a.get_atomic_numbers().astype(np.int64) for a in frames],
                  positions=positions)
    energy = np.array(energies)
    if not np.isnan(energy).all():
        if np.isnan(energy).any():
            raise InputError(source, "energy", f"{int(np.isnan(energy).sum())} frame(s) without",
                             "an energy on every frame or on none")
        fs.energy = energy * e_factor
    if any(f is not None for f in forces):
        if any(f is None for f in forces):
            raise InputError(source, "forces", "some frames without forces",
                             "forces on every frame or on none")
        fs.forces = [np.asarray(f, np.float64) * f_factor for f in forces]
        for i, f in enumerate(fs.forces):
            check_finite(f[None], source, f"forces (frame {i})")
    if any(a.pbc.any() for a in frames):
        fs.cell = np.stack([a.cell.array for a in frames]) * length
        fs.pbc = np.stack([a.pbc for a in frames])
    return fs
