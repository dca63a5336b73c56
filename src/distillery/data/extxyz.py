"""Extended XYZ files (via ASE) to a FrameSet.

ASE moves the properties it knows (`energy`, `forces`, `stress`, `charges`, ...) from the
comment line and the `Properties=` columns to a SinglePointCalculator; everything else stays in
`atoms.info` (per frame) or `atoms.arrays` (per atom). All three are searched, so files written
by ase.io.write, MACE-style files (`REF_energy`, `REF_forces`, `REF_stress`) and GAP-style files
(`DFT_energy`, ...) resolve through the same aliases as NPZ, and `fields:` can name any key.
Non-periodic molecules (no `Lattice`, or `pbc="F F F"`) carry no cell.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
from ase import Atoms
from ase.io import read
from ase.io.extxyz import per_config_properties

from distillery.data.frames import FrameSet
from distillery.data.harmonise import (
    ATOM,
    FRAME,
    assemble,
    brief,
    check_finite,
    require_fields,
    resolve_fields,
)
from distillery.errors import InputError, reason

Record = dict[str, tuple[str, Any]]


def _record(atoms: Atoms) -> Record:
    """Every value of one frame by key, with whether it is per atom or per frame."""
    record: Record = {k: (FRAME, v) for k, v in atoms.info.items()}
    record.update({k: (ATOM, v) for k, v in atoms.arrays.items()})
    results = getattr(atoms.calc, "results", None) or {}
    record.update({k: (FRAME if k in per_config_properties else ATOM, v)
                   for k, v in results.items()})
    return record


def _column(records: list[Record], key: str) -> list[Any]:
    return [r[key][1] if key in r else None for r in records]


def _present(column: list[Any], source: str, key: str, what: str) -> list[Any]:
    missing = sum(v is None for v in column)
    if missing:
        first = next(i for i, v in enumerate(column) if v is None)
        raise InputError(source, key, f"{missing} frame(s) without, first {first}",
                         f"{what} on every frame or on none",
                         fix="drop the unlabelled frames or label them")
    return column


def _array(value: Any, shape: tuple[int, ...], source: str, field: str) -> np.ndarray:
    try:
        array = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise InputError(source, field, brief(value), f"numbers of shape {shape}") from None
    if array.shape != shape:
        raise InputError(source, field, f"shape {array.shape}", f"{shape}")
    return array


def _per_atom(column: list[Any], n_atoms: list[int], width: int, source: str,
              key: str) -> list[np.ndarray]:
    return [_array(v, (n, width), source, f"{key} (frame {i})")
            for i, (v, n) in enumerate(zip(column, n_atoms, strict=True))]


def _number(value: Any, source: str, field: str) -> float:
    try:
        return float(np.asarray(value, dtype=np.float64).reshape(()))
    except (TypeError, ValueError):
        raise InputError(source, field, brief(value), "a number") from None


def _check_atom_counts(source: str) -> None:
    """Each frame's atom count must fit in the lines that follow it: ASE's reader would
    otherwise spend minutes on a count such as 123456789 before failing."""
    try:
        with open(source, "rb") as handle:
            lines = handle.read().splitlines()
    except OSError:
        return  # unreadable: ASE's reader reports it
    start, frame = 0, 0
    while start < len(lines) and lines[start].strip():
        try:
            count = int(lines[start])
        except ValueError:
            return  # not a count: ASE's own error names what it expected
        if count < 0 or start + 2 + count > len(lines):
            raise InputError(source, f"file (frame {frame}, line {start + 1})",
                             f"atom count {count} but {max(len(lines) - start - 2, 0)} lines "
                             "follow", "the number of atom lines of the frame")
        start, frame = start + 2 + count, frame + 1


def read_extxyz(
    path: str | Path,
    units: Mapping[str, str] | None = None,
    fields: Mapping[str, str] | None = None,
    required: Iterable[str] = (),
) -> FrameSet:
    """Read every frame in eV / Å / eV/Å; `required` names labels that must be found."""
    source = str(path)
    _check_atom_counts(source)
    try:
        frames = read(source, index=":", format="extxyz")
    except Exception as exc:  # ASE raises many types for malformed text
        raise InputError(source, "file", f"unparseable extended XYZ ({reason(exc)})",
                         "an extended XYZ file (atom count, comment line, atom lines)") from None
    if not frames:
        raise InputError(source, "file", "no frames", "at least one frame")
    records = [_record(atoms) for atoms in frames]
    kinds: dict[str, str] = {}
    for record in records:
        for key, (kind, _) in record.items():
            kinds.setdefault(key, kind)
    keys = resolve_fields(kinds, source, fields)
    n_atoms = [len(atoms) for atoms in frames]
    if min(n_atoms) == 0:
        raise InputError(source, f"file (frame {n_atoms.index(0)})", "0 atoms",
                         "at least one atom per frame")

    positions = _per_atom(_present(_column(records, keys["positions"]), source,
                                   keys["positions"], "positions"),
                          n_atoms, 3, source, keys["positions"])
    check_finite(positions, source, keys["positions"], per_frame=True)
    numbers = []
    for i, value in enumerate(_present(_column(records, keys["numbers"]), source,
                                       keys["numbers"], "atomic numbers")):
        z = np.asarray(value)
        if z.shape != (n_atoms[i],) or z.dtype.kind not in "iu" or z.min() < 1 or z.max() > 118:
            raise InputError(source, f"{keys['numbers']} (frame {i})", brief(value),
                             f"{n_atoms[i]} atomic numbers in 1..118")
        numbers.append(z)
    values: dict[str, Any] = {"positions": positions, "numbers": numbers}

    def labelled(name: str, what: str) -> list[Any] | None:
        if name not in keys:
            return None
        column = _column(records, keys[name])
        if all(v is None for v in column):
            return None
        return _present(column, source, keys[name], what)

    if (energy := labelled("energy", "an energy")) is not None:
        values["energy"] = np.array([_number(e, source, f"{keys['energy']} (frame {i})")
                                     for i, e in enumerate(energy)])
    if (forces := labelled("forces", "forces")) is not None:
        values["forces"] = _per_atom(forces, n_atoms, 3, source, keys["forces"])
    if (cell := labelled("cell", "a cell")) is not None:
        values["cell"] = np.stack([_array(c, (3, 3), source, f"{keys['cell']} (frame {i})")
                                   for i, c in enumerate(cell)])
        pbc = _column(records, keys["pbc"]) if "pbc" in keys else [None] * len(cell)
        values["pbc"] = np.stack([np.ones(3, bool) if p is None else np.broadcast_to(p, 3)
                                  for p in pbc])
    elif any(atoms.pbc.any() for atoms in frames):
        # non-periodic frames beside periodic ones (e.g. isolated atoms) keep a zero cell
        values["cell"] = np.stack([atoms.cell.array for atoms in frames])
        values["pbc"] = np.stack([atoms.pbc for atoms in frames])
    for name, what in (("stress", "a stress"), ("virial", "a virial")):
        if (tensor := labelled(name, what)) is not None:
            values[name] = tensor
    if (charges := labelled("charges", "charges")) is not None:
        values["charges"] = charges

    require_fields(keys, list(kinds), source, required)
    used = set(keys.values())
    extras = {ATOM: {}, FRAME: {}}
    for key, kind in kinds.items():
        column = _column(records, key)
        if key not in used and all(v is not None for v in column):
            extras[kind][key] = column
    return assemble(source, keys, values, units, atom_extras=extras[ATOM],
                    frame_extras=extras[FRAME], per_frame=True, fields=fields)
