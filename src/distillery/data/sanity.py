"""Plausibility checks that catch unit mix-ups and copy errors before anything is trained."""

from __future__ import annotations

import hashlib

import numpy as np

from distillery.data.frames import FrameSet
from distillery.errors import InputError

# far beyond any physical value in eV, Å and eV/Å: larger numbers mean wrong units or garbage
MAX_COORDINATE = 1e5
MAX_FORCE = 1e4
MAX_ENERGY_PER_ATOM = 1e6
# far below any sampled system: thermal forces at 10 K are ~1e-2 eV/Å; smaller forces together
# with almost no energy change mean the labels were scaled down (Hartree declared as meV)
MIN_FORCE_RMS = 1e-3
MIN_ENERGY_SPREAD_PER_ATOM = 1e-4


def check_frames(fs: FrameSet, source: str) -> None:
    """Reject duplicated frames and magnitudes that no unit choice makes physical."""
    seen: dict[bytes, int] = {}
    for i, (z, r) in enumerate(zip(fs.numbers, fs.positions, strict=True)):
        digest = hashlib.blake2b(np.ascontiguousarray(z).tobytes()
                                 + np.ascontiguousarray(r).tobytes()).digest()
        if digest in seen:
            raise InputError(source, "positions", f"frame {i} identical to {seen[digest]}",
                             "distinct frames", fix="remove repeated frames from the source")
        seen[digest] = i
    _check_magnitude(source, "positions", fs.positions, MAX_COORDINATE, "units.length")
    if fs.forces is not None:
        _check_magnitude(source, "forces", fs.forces, MAX_FORCE, "units.forces")
    if fs.energy is not None:
        per_atom = np.abs(fs.energy) / fs.n_atoms
        _check_magnitude(source, "energy", [per_atom], MAX_ENERGY_PER_ATOM, "units.energy",
                         what="|energy| per atom")
    if fs.forces is not None and fs.energy is not None and len(fs) > 1:
        _check_not_vanishing(fs, source)


def _check_not_vanishing(fs: FrameSet, source: str) -> None:
    forces = np.concatenate([np.ravel(f) for f in fs.forces])
    rms = float(np.sqrt(np.mean(forces**2)))
    spread = float(np.std(fs.energy / fs.n_atoms))
    if rms < MIN_FORCE_RMS and spread < MIN_ENERGY_SPREAD_PER_ATOM:
        raise InputError(source, "forces", f"RMS {rms:.2g} eV/Å with an energy spread of "
                         f"{spread:.2g} eV/atom over {len(fs)} frames",
                         f"an RMS force of at least {MIN_FORCE_RMS:g} eV/Å in sampled frames",
                         fix="check units.energy and units.forces (e.g. Hartree declared as "
                             "meV)")


def _check_magnitude(source: str, field: str, arrays: list[np.ndarray], limit: float,
                     unit_key: str, what: str | None = None) -> None:
    largest = max(float(np.abs(a).max()) for a in arrays)
    if largest > limit:
        raise InputError(source, field, f"{what or 'values'} up to {largest:.3g}",
                         f"below {limit:g} in eV/Å units", fix=f"check {unit_key}")
