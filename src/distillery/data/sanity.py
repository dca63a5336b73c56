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


def _check_magnitude(source: str, field: str, arrays: list[np.ndarray], limit: float,
                     unit_key: str, what: str | None = None) -> None:
    largest = max(float(np.abs(a).max()) for a in arrays)
    if largest > limit:
        raise InputError(source, field, f"{what or 'values'} up to {largest:.3g}",
                         f"below {limit:g} in eV/Å units", fix=f"check {unit_key}")
