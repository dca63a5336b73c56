"""MD17-style NPZ archives (`R`, `z`, `E`, `F`, optional `cell`, `pbc`, ...) to a FrameSet.

The MD17 (`E F R z` + strings `name theory md5 type`) and revised MD17 (`coords energies forces
nuclear_charges old_*`) layouts both read through the aliases in `distillery.data.harmonise`.
"""

from __future__ import annotations

import zipfile
from collections.abc import Iterable, Mapping
from pathlib import Path

import numpy as np

from distillery.data.frames import FrameSet
from distillery.data.harmonise import assemble, check_finite, require_fields, resolve_fields
from distillery.errors import InputError, reason

__all__ = ["check_finite", "read_npz"]


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


def _shape_error(path: str, key: str, found: tuple, expected: str) -> InputError:
    return InputError(path, key, f"shape {found}", f"shape {expected}")


def read_npz(
    path: str | Path,
    units: Mapping[str, str] | None = None,
    fields: Mapping[str, str] | None = None,
    required: Iterable[str] = (),
) -> FrameSet:
    """Read an NPZ file into a FrameSet in eV / Å / eV/Å; `required` names labels to insist on."""
    source = str(path)
    try:
        archive = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, NotImplementedError) as exc:
        raise InputError(source, "file", f"not a readable NPZ archive ({reason(exc)})",
                         "an .npz archive written by numpy.savez",
                         fix="check the path and that the download/copy completed") from None
    if not isinstance(archive, np.lib.npyio.NpzFile):
        raise InputError(source, "file", "a single .npy array", "an .npz archive of named arrays")
    with archive:
        available = list(archive.files)
        keys = resolve_fields(available, source, fields)
        arrays = {name: _load(archive, key, source) for name, key in keys.items()}
        # other numeric arrays travel as extras; metadata such as MD17's `name` does not
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

    values: dict[str, np.ndarray] = {"positions": positions, "numbers": numbers}
    if "energy" in arrays:
        energy = arrays["energy"].astype(np.float64)
        if energy.shape not in ((n_frames,), (n_frames, 1)):
            raise _shape_error(source, keys["energy"], energy.shape,
                               f"({n_frames},) or ({n_frames}, 1)")
        values["energy"] = energy.reshape(n_frames)
    if "forces" in arrays:
        forces = arrays["forces"].astype(np.float64)
        if forces.ndim == 2:
            forces = forces[None]
        if forces.shape != positions.shape:
            raise _shape_error(source, keys["forces"], arrays["forces"].shape,
                               f"{positions.shape} (n_frames, n_atoms, 3) like the positions")
        values["forces"] = forces
    if "cell" in arrays:
        values["cell"] = _cell(arrays["cell"], n_frames, source, keys["cell"])
        values["pbc"] = _pbc(arrays.get("pbc"), n_frames, source, keys.get("pbc", "pbc"))
    for name in ("stress", "virial", "charges"):
        if name in arrays:
            values[name] = _per_frame(arrays[name], n_frames, source, keys[name])
    require_fields(keys, available, source, required)
    # per-frame arrays, and grids shared by every frame (ESP points)
    extras = {k: v for k, v in extras_raw.items() if v.dtype.kind in "biuf" and v.ndim >= 1}
    return assemble(source, keys, values, units, extras=extras, fields=fields)


def _per_frame(values: np.ndarray, n_frames: int, source: str, key: str) -> np.ndarray:
    if values.ndim == 0 or len(values) != n_frames:
        raise _shape_error(source, key, values.shape, f"({n_frames}, ...) one entry per frame")
    return values.astype(np.float64)


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
