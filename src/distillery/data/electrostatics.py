"""Electrostatic labels recognised by meaning and shape: charges, dipoles, quadrupoles, ESP.

Files name these fields loosely (`mono`, `D`, `Q`, `esp` on `vdw_surface`/`esp_grid` points)
and one name can mean several things, told apart by the shape of one frame's value:

    mono  (n_atoms,)                          -> mono           per-atom charges
    D     ()                                  -> dipole_norm    magnitude
          (3,)                                -> dipole         molecular vector
          (n_atoms, 3)                        -> atomic_dipoles per-atom dipoles
    Q     ()                                  -> total_charge
          (6,) xx yy zz xy xz yz, (9,), (3, 3)-> quadrupole     traceless (Buckingham)
          (n_atoms,)                          -> mono           per-atom charges
    esp   (n_grid,)                           -> esp            n_grid from its length
    vdw_surface / esp_grid (n_grid, 3)        -> esp_grid       per frame, or one shared grid

Formats that say per-atom from per-frame (extended XYZ) only match meanings of that kind; NPZ
does not, so an NPZ `Q` of shape (n, 6) in a 6-atom molecule (or (n, 9) with 9 atoms) is
ambiguous and stops with the meanings it could have (rename the key or map it with `fields:`).

Internal units: charges e, dipoles e·Å, quadrupoles e·Å² (traceless, Θ = ½ Σ q (3 r r - r² I)
about the frame's centre of mass), the ESP in eV/e (volts, the potential energy in eV of a
unit charge: eV is the project's energy unit), grid points Å. Per-atom charges missing while
other electrostatic labels exist are zero-filled with one warning.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from ase import units as ase_units

from distillery.data.frames import ATOM, FRAME, per_atom
from distillery.errors import InputError

LOG = logging.getLogger(__name__)

# a quadrupole given with a trace above this fraction of its largest component is not traceless
TRACE_TOLERANCE = 1e-3
QUADRUPOLE_ORDER = ((0, 0), (1, 1), (2, 2), (0, 1), (0, 2), (1, 2))  # xx yy zz xy xz yz

COULOMB = ase_units.Hartree * ase_units.Bohr  # eV·Å/e²: potential of 1 e at 1 Å is 14.4 V
KCAL_PER_MOL = ase_units.kcal / ase_units.mol  # eV

# multiply a value in the named unit by the factor for the internal unit
CHARGE_UNITS = {"e": 1.0, "au": 1.0}
DIPOLE_UNITS = {"e*angstrom": 1.0, "ea": 1.0, "debye": ase_units.Debye, "d": ase_units.Debye,
                "e*bohr": ase_units.Bohr, "au": ase_units.Bohr}
QUADRUPOLE_UNITS = {"e*angstrom^2": 1.0, "ea^2": 1.0, "buckingham": ase_units.Debye,
                    "debye*angstrom": ase_units.Debye, "e*bohr^2": ase_units.Bohr**2,
                    "au": ase_units.Bohr**2}
ESP_UNITS = {"ev/e": 1.0, "v": 1.0, "hartree/e": ase_units.Hartree, "au": ase_units.Hartree,
             "kcal/mol/e": KCAL_PER_MOL, "kj/mol/e": ase_units.kJ / ase_units.mol}
UNIT_TABLES = {"charge": CHARGE_UNITS, "dipole": DIPOLE_UNITS,
               "quadrupole": QUADRUPOLE_UNITS, "esp": ESP_UNITS}


@dataclass(frozen=True)
class Meaning:
    """One thing a field can hold: its column, the shapes of one frame's value ('A': the
    atom count, 'G': the grid size), whether it is per atom, and its unit kind."""

    column: str
    shapes: tuple[tuple[int | str, ...], ...]
    kind: str
    unit: str
    what: str


MEANINGS = {m.column: m for m in (
    Meaning("mono", (("A",),), ATOM, "charge", "per-atom charges"),
    Meaning("dipole_norm", ((),), FRAME, "dipole", "a dipole magnitude"),
    Meaning("dipole", ((3,),), FRAME, "dipole", "a molecular dipole vector"),
    Meaning("atomic_dipoles", (("A", 3),), ATOM, "dipole", "per-atom dipoles"),
    Meaning("total_charge", ((), (1,)), FRAME, "charge", "a total charge"),
    Meaning("quadrupole", ((6,), (9,), (3, 3)), FRAME, "quadrupole",
            "a quadrupole (6 components xx yy zz xy xz yz, or 3x3)"),
    Meaning("esp", (("G",),), FRAME, "esp", "ESP values on the grid points"),
    Meaning("esp_grid", (("G", 3), ("3G",)), FRAME, "length", "ESP grid points"),
)}

# field name -> (meanings it may have, keys it goes by in files)
FIELDS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "mono": (("mono",), ("mono", "mulliken", "hirshfeld", "partial_charges",
                         "atomic_charges", "REF_mono")),
    "D": (("dipole_norm", "dipole", "atomic_dipoles"),
          ("D", "dipole", "dipoles", "dipole_moment", "REF_dipole", "DFT_dipole")),
    "Q": (("total_charge", "quadrupole", "mono"), ("Q",)),
    "quadrupole": (("quadrupole",), ("quadrupole", "quadrupoles", "quadrupole_moment",
                                     "REF_quadrupole")),
    "total_charge": (("total_charge",), ("total_charge", "charge", "REF_charge")),
    "esp": (("esp",), ("esp", "ESP", "esp_values", "REF_esp")),
    "esp_grid": (("esp_grid",), ("vdw_surface", "esp_grid", "grid", "esp_points",
                                 "surface_points")),
}
FIELD_NAMES = frozenset(FIELDS)
COLUMNS = frozenset(MEANINGS)


def unit_factor(kind: str, unit: str | None, source: str = "config") -> float:
    """Multiply values of `kind` (charge, dipole, quadrupole, esp) in `unit` by this for the
    internal unit; None is the internal unit itself."""
    if unit is None:
        return 1.0
    table = UNIT_TABLES[kind]
    text = unit.strip().lower().replace(" ", "").replace("·", "*").replace("å", "angstrom")
    try:
        return table[text]
    except KeyError:
        raise InputError(source, f"units.{kind}", repr(unit), f"one of {sorted(table)}",
                         fix=f"set units.{kind} in the dataset config to a known unit") from None


def _fits(shape: tuple[int, ...], template: tuple[int | str, ...], n_atoms: int,
          n_grid: int | None) -> bool:
    sizes = {"A": n_atoms, "G": n_grid, "3G": None if n_grid is None else 3 * n_grid}
    wanted = tuple(sizes[t] if isinstance(t, str) else t for t in template)
    return shape == wanted


def _shapes_text(meaning: Meaning) -> str:
    names = {"A": "n_atoms", "G": "n_grid", "3G": "3*n_grid"}
    return " or ".join("(" + ", ".join(str(names.get(t, t)) for t in s)
                       + ("," if len(s) == 1 else "") + ")" for s in meaning.shapes)


def _per_frame(values: Any, n_frames: int) -> list[np.ndarray] | None:
    """One array per frame, or None when `values` is not one entry per frame."""
    if isinstance(values, np.ndarray) and values.dtype != object:
        return list(values) if values.ndim >= 1 and len(values) == n_frames else None
    try:
        arrays = [np.asarray(v, dtype=np.float64) for v in values]
    except (TypeError, ValueError):
        return None
    return arrays if len(arrays) == n_frames else None


def _detect(field: str, key: str, frames: list[np.ndarray], kind: str | None,
            n_atoms: np.ndarray, n_grid: int | None, source: str) -> str:
    """The one meaning of `field` that every frame's shape fits."""
    candidates = [MEANINGS[m] for m in FIELDS[field][0]
                  if kind is None or MEANINGS[m].kind == kind]
    fitting = [m for m in candidates
               if all(any(_fits(a.shape, t, int(n), n_grid) for t in m.shapes)
                      for a, n in zip(frames, n_atoms, strict=True))]
    shape = frames[0].shape
    if len(fitting) > 1:
        meanings = " or ".join(f"{m.what} ({m.column})" for m in fitting)
        raise InputError(source, key, f"shape {shape} per frame with {n_atoms[0]} atoms, "
                         f"which could be {meanings}", "a shape with one meaning",
                         fix=f"rename the key to {fitting[0].column!r} or "
                             f"{fitting[1].column!r}, or map it with fields: "
                             f"{{{fitting[0].column}: {key}}}")
    if not fitting:
        allowed = "; ".join(f"{m.what} {_shapes_text(m)}" for m in candidates)
        raise InputError(source, key, f"shape {shape} per frame with {n_atoms[0]} atoms",
                         allowed or "a per-frame value", fix="check the field's layout")
    return fitting[0].column


def _grid_frames(values: Any, n_frames: int, n_grid: int) -> list[np.ndarray] | None:
    """A grid shared by every frame (n_grid, 3) broadcast to one per frame."""
    array = np.asarray(values) if isinstance(values, np.ndarray) else None
    if array is not None and array.shape == (n_grid, 3) and n_grid != n_frames:
        return [array] * n_frames
    return _per_frame(values, n_frames)


def _convert(column: str, frames: list[np.ndarray], units: Mapping[str, Any], length: float,
             source: str, key: str) -> np.ndarray:
    meaning = MEANINGS[column]
    factor = (length if meaning.unit == "length"
              else unit_factor(meaning.unit, units.get(meaning.unit), source))
    values = [np.asarray(a, np.float64) * factor for a in frames]
    bad = [i for i, a in enumerate(values) if not np.isfinite(a).all()]
    if bad:
        raise InputError(source, f"{key} (frame {bad[0]})", f"NaN/inf in {len(bad)} frame(s)",
                         "finite values", fix="drop or repair those frames")
    if column in ("mono", "atomic_dipoles"):
        return per_atom([a.reshape(len(a), *meaning.shapes[0][1:]) for a in values])
    if column == "quadrupole":
        return np.stack([_quadrupole(a, source, f"{key} (frame {i})")
                         for i, a in enumerate(values)])
    if column == "esp_grid":
        return np.stack([a.reshape(-1, 3) for a in values])
    if column == "total_charge":
        return np.array([float(a.reshape(-1)[0]) for a in values])
    return np.stack(values)


def _quadrupole(value: np.ndarray, source: str, field: str) -> np.ndarray:
    if value.shape == (6,):
        tensor = np.empty((3, 3))
        for k, (a, b) in enumerate(QUADRUPOLE_ORDER):
            tensor[a, b] = tensor[b, a] = value[k]
    else:
        tensor = value.reshape(3, 3)
    scale = max(float(np.abs(tensor).max()), 1e-12)
    if abs(np.trace(tensor)) > TRACE_TOLERANCE * scale or not np.allclose(tensor, tensor.T):
        raise InputError(source, field, f"trace {np.trace(tensor):.4g} (largest component "
                         f"{scale:.4g})", "a symmetric traceless quadrupole",
                         fix="convert a second moment M to Θ = (3M - tr(M) I) / 2")
    return tensor


def electrostatic_columns(
    candidates: Mapping[str, tuple[str | None, Any]],
    n_atoms: np.ndarray,
    source: str,
    units: Mapping[str, Any] | None = None,
    fields: Mapping[str, str] | None = None,
    length: float = 1.0,
    charges: np.ndarray | None = None,
) -> tuple[dict[str, np.ndarray], set[str]]:
    """Columns (in internal units) of the electrostatic fields among `candidates`
    (key -> (ATOM, FRAME or None: unknown, values)); also the keys they used.

    `fields` may map a field name (`mono`, `D`, `Q`, `quadrupole`, `total_charge`, `esp`,
    `esp_grid`) to a key of the file; `length` converts grid points to Å. Per-atom `charges`
    the file gives under the common field of that name stand in for a missing `mono`.
    """
    units = dict(units or {})
    n_frames = len(n_atoms)
    chosen: dict[str, str] = {}  # field -> key
    for name, key in (fields or {}).items():
        if name in FIELD_NAMES:
            if key not in candidates:
                raise InputError(source, key, f"keys {sorted(candidates)}",
                                 f"a key named {key!r} (fields.{name})",
                                 fix="correct fields in the dataset config")
            chosen[name] = key
    taken = set(chosen.values())
    for field, (_, aliases) in FIELDS.items():
        if field in chosen:
            continue
        found = [k for k in candidates if k not in taken
                 and (k in aliases or k.lower() in {a.lower() for a in aliases})]
        if len(found) > 1:
            raise InputError(source, field, f"several candidate keys {found}", "exactly one",
                             fix=f"choose one with fields: {{{field}: <key>}}")
        if found:
            chosen[field] = found[0]
            taken.add(found[0])

    n_grid = None
    if "esp" in chosen:
        esp = _per_frame(candidates[chosen["esp"]][1], n_frames)
        lengths = {a.size for a in esp} if esp is not None else set()
        if esp is None or len(lengths) != 1 or any(a.ndim != 1 for a in esp):
            raise InputError(source, chosen["esp"], "not one vector of values per frame",
                             f"shape ({n_frames}, n_grid), the same n_grid in every frame",
                             fix="give every frame the same number of grid points")
        n_grid = lengths.pop()
        if "esp_grid" not in chosen:
            raise InputError(source, chosen["esp"], "ESP values without grid points",
                             f"grid points under one of {list(FIELDS['esp_grid'][1])}",
                             fix="add the points (n_frames, n_grid, 3) the ESP was computed on")
    elif "esp_grid" in chosen:
        raise InputError(source, chosen["esp_grid"], "grid points without ESP values",
                         f"ESP values under one of {list(FIELDS['esp'][1])}")

    columns: dict[str, np.ndarray] = {}
    for field, key in chosen.items():
        kind, values = candidates[key]
        frames = (_grid_frames(values, n_frames, n_grid) if field == "esp_grid"
                  else _per_frame(values, n_frames))
        if frames is None:
            raise InputError(source, key, "not one value per frame",
                             f"{n_frames} entries, one per frame")
        frames = [np.asarray(a, np.float64) for a in frames]
        column = _detect(field, key, frames, kind, n_atoms, n_grid, source)
        if column in columns:
            raise InputError(source, key, f"a second source of {column}",
                             f"{column} from one key only", fix="drop or rename one of them")
        columns[column] = _convert(column, frames, units, length, source, key)
    if columns and "mono" not in columns and charges is not None:
        columns["mono"] = charges
    elif columns and "mono" not in columns:
        LOG.warning("%s: no per-atom charges (mono): filled with zeros", source)
        columns["mono"] = per_atom([np.zeros(int(n)) for n in n_atoms])
    return columns, set(chosen.values())
