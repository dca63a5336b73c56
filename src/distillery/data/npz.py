"""MD17-style NPZ archives (`R`, `z`, `E`, `F`, optional `cell`, `pbc`) to a FrameSet."""

from __future__ import annotations

import zipfile
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from distillery.data.frames import FrameSet
from distillery.data.harmonise import resolve_fields
from distillery.data.units import energy_factor, force_factor, length_factor
from distillery.errors import InputError, reason


def _read_member(archive: np.lib.npyio.NpzFile, key: str, path: str) -> np.ndarray:
    try:
        return archive[key]
    # a damaged archive fails in zipfile, zlib or numpy's header parser with many types
    except Exception as exc:
        raise InputError(path, key, f"an unreadable array ({reason(exc)})",
                         "a complete numpy array", fix="regenerate or re-copy the file") from None


def _load(archive: np.lib.npyio.NpzFile, key: str, path: str) -> np.ndarray:
    values = _read_member(archive, key, path)
    if values.dtype.kind not in "biuf":
        raise InputError(path, key, f"dtype {values.dtype}", "a numeric array")
    return values


def check_finite(values: np.ndarray, path: str, key: str) -> None:
    """Raise naming the first frame that holds NaN or inf."""
    bad = ~np.isfinite(values.reshape(len(values), -1)).all(axis=1)
    if bad.any():
        frames = np.flatnonzero(bad)
        raise InputError(path, key, f"NaN/inf in {len(frames)} frame(s), first {frames[0]}",
                         "finite values", fix="drop or repair those frames")


def _shape_error(path: str, key: str, found: tuple, expected: str) -> InputError:
    return InputError(path, key, f"shape {found}", f"shape {expected}")


def read_npz(
    path: str | Path,
    units: Mapping[str, str] | None = None,
    fields: Mapping[str, str] | None = None,
) -> FrameSet:
    """Read an NPZ file into a FrameSet in eV / Å / eV/Å."""
    source = str(path)
    units = dict(units or {})
    try:
        archive = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, NotImplementedError) as exc:
        raise InputError(source, "file", f"not a readable NPZ archive ({reason(exc)})",
                         "an .npz archive written by numpy.savez",
                         fix="check the path and that the download/copy completed") from None
    if not isinstance(archive, np.lib.npyio.NpzFile):
        raise InputError(source, "file", "a single .npy array", "an .npz archive of named arrays")
    with archive:
        keys = resolve_fields(archive.files, source, fields)
        arrays = {name: _load(archive, key, source) for name, key in keys.items()}
        # other per-frame numeric arrays travel as extras; metadata such as MD17's `name` does not
        extras_raw = {k: _read_member(archive, k, source) for k in archive.files
                      if k not in keys.values()}

    positions = arrays["positions"].astype(np.float64)
    if positions.ndim == 2:
        positions = positions[None]
    if positions.ndim != 3 or positions.shape[2] != 3 or positions.shape[1] == 0:
        raise _shape_error(source, keys["positions"], arrays["positions"].shape,
                           "(n_frames, n_atoms, 3)")
    n_frames, n_atoms = positions.shape[:2]
    if n_frames == 0:
        raise InputError(source, keys["positions"], "0 frames", "at least one frame")
    check_finite(positions, source, keys["positions"])

    numbers = arrays["numbers"]
    if numbers.ndim == 1:
        numbers = np.broadcast_to(numbers, (n_frames, numbers.shape[0]))
    if numbers.shape != (n_frames, n_atoms):
        raise _shape_error(source, keys["numbers"], arrays["numbers"].shape,
                           f"({n_atoms},) or ({n_frames}, {n_atoms})")
    if numbers.dtype.kind == "f" and not np.all(numbers == np.round(numbers)):
        raise InputError(source, keys["numbers"], "non-integer values", "atomic numbers")
    numbers = numbers.astype(np.int64)
    if numbers.min() < 1 or numbers.max() > 118:
        bad = numbers[(numbers < 1) | (numbers > 118)][0]
        raise InputError(source, keys["numbers"], f"atomic number {bad}",
                         "elements 1..118", fix="map bead/atom types to atomic numbers")

    length = length_factor(units.get("length", "angstrom"), source)
    fs = FrameSet(numbers=list(numbers), positions=list(positions * length))

    if "energy" in arrays:
        energy = arrays["energy"].astype(np.float64)
        if energy.shape not in ((n_frames,), (n_frames, 1)):
            raise _shape_error(source, keys["energy"], energy.shape,
                               f"({n_frames},) or ({n_frames}, 1)")
        energy = energy.reshape(n_frames)
        check_finite(energy, source, keys["energy"])
        fs.energy = energy * energy_factor(units.get("energy", "eV"), source)
    if "forces" in arrays:
        forces = arrays["forces"].astype(np.float64)
        if forces.ndim == 2:
            forces = forces[None]
        if forces.shape != positions.shape:
            raise _shape_error(source, keys["forces"], arrays["forces"].shape,
                               f"{positions.shape} (n_frames, n_atoms, 3) like the positions")
        check_finite(forces, source, keys["forces"])
        default = f"{units.get('energy', 'eV')}/{units.get('length', 'angstrom')}"
        fs.forces = list(forces * force_factor(units.get("forces", default), source))
    if "cell" in arrays:
        fs.cell = _cell(arrays["cell"], n_frames, source, keys["cell"]) * length
        fs.pbc = _pbc(arrays.get("pbc"), n_frames, source, keys.get("pbc", "pbc"))
    for key, values in extras_raw.items():
        if values.dtype.kind in "biuf" and values.shape == (n_frames,):
            fs.extras[key] = values
    return fs


def _cell(cell: np.ndarray, n_frames: int, source: str, key: str) -> np.ndarray:
    cell = cell.astype(np.float64)
    if cell.shape == (3,):
        cell = np.diag(cell)
    if cell.shape == (3, 3):
        cell = np.broadcast_to(cell, (n_frames, 3, 3)).copy()
    if cell.shape != (n_frames, 3, 3):
        raise _shape_error(source, key, cell.shape, f"(3,), (3, 3) or ({n_frames}, 3, 3)")
    check_finite(cell, source, key)
    return cell


def _pbc(pbc: np.ndarray | None, n_frames: int, source: str, key: str) -> np.ndarray:
    if pbc is None:
        return np.ones((n_frames, 3), dtype=bool)
    pbc = np.asarray(pbc).astype(bool)
    if pbc.shape in ((), (3,)):
        pbc = np.broadcast_to(pbc, (n_frames, 3)).copy()
    if pbc.shape != (n_frames, 3):
        raise _shape_error(source, key, pbc.shape, f"(), (3,) or ({n_frames}, 3)")
    return pbc
