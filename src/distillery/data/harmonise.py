"""One harmonisation step shared by every molecular reader.

A reader lists the keys its file holds; `resolve_fields` picks the key for each canonical field
(aliases, `fields:` overrides, the labels a track needs). The reader then parses its own layout
into per-frame values in the file's units, and `assemble` converts units, brings stress and
virial to 3x3, checks that everything is finite and sorts the remaining arrays into extras.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import numpy as np

from distillery.data.electrostatics import FIELD_NAMES as ELECTROSTATIC_FIELDS
from distillery.data.electrostatics import electrostatic_columns
from distillery.data.frames import ATOM, FRAME, FrameSet, per_atom
from distillery.data.units import energy_factor, force_factor, length_factor, stress_factor
from distillery.errors import InputError

ALIASES: dict[str, tuple[str, ...]] = {
    "positions": ("R", "positions", "coords", "coordinates", "xyz", "pos"),
    "numbers": ("z", "Z", "numbers", "atomic_numbers", "nuclear_charges", "species"),
    # REF_* is what MACE and other MLIP tools write, DFT_* is common in GAP-style files
    "energy": ("E", "energy", "energies", "U", "total_energy", "REF_energy", "DFT_energy"),
    "forces": ("F", "forces", "force", "REF_forces", "DFT_forces"),
    "stress": ("stress", "REF_stress", "DFT_stress"),
    "virial": ("virial", "REF_virial", "DFT_virial"),
    "charges": ("charges", "REF_charges", "DFT_charges"),
    "cell": ("cell", "lattice", "box"),
    "pbc": ("pbc",),
}
# Where a format tells per-atom from per-frame keys (extended XYZ), a field only matches keys
# of its own kind, so per-atom `energies` never competes with the frame's `energy`.
KIND: dict[str, str] = {"positions": ATOM, "numbers": ATOM, "forces": ATOM, "charges": ATOM,
                        "energy": FRAME, "stress": FRAME, "virial": FRAME, "cell": FRAME,
                        "pbc": FRAME}
REQUIRED = ("positions", "numbers")
# columns of the frames table: extras of these names would overwrite them
RESERVED = frozenset({"frame", "n_atoms", *ALIASES})
VOIGT = ((0, 0), (1, 1), (2, 2), (1, 2), (0, 2), (0, 1))

Values = np.ndarray | Sequence[np.ndarray]


def resolve_fields(
    keys: Iterable[str] | Mapping[str, str | None],
    source: str,
    overrides: Mapping[str, str] | None = None,
    required: Iterable[str] = (),
) -> dict[str, str]:
    """Return canonical name -> key in the file; unknown keys are left for extras.

    `keys` may map each key to ATOM or FRAME (None: either). `required` names fields beyond
    positions and numbers that must be found (see also `require_fields`).
    """
    kinds = dict(keys) if isinstance(keys, Mapping) else dict.fromkeys(keys)
    available = list(kinds)
    overrides = dict(overrides or {})
    resolved: dict[str, str] = {}
    for canonical, key in overrides.items():
        if canonical in ELECTROSTATIC_FIELDS:
            continue  # resolved by shape in `assemble` (distillery.data.electrostatics)
        if canonical not in ALIASES:
            raise InputError(
                "config", f"fields.{canonical}", repr(canonical),
                f"one of {sorted(ALIASES)} or {sorted(ELECTROSTATIC_FIELDS)}"
            )
        if key not in available:
            raise InputError(
                source, key, f"keys {available}", f"a key named {key!r} (fields.{canonical})",
                fix="correct fields in the dataset config",
            )
        resolved[canonical] = key
    for canonical, aliases in ALIASES.items():
        if canonical in resolved:
            continue
        usable = [k for k in available if kinds[k] in (None, KIND[canonical])]
        lowered = {k.lower(): k for k in usable}
        exact = [a for a in aliases if a in usable]
        if not exact:
            exact = list(dict.fromkeys(lowered[a.lower()] for a in aliases if a.lower() in lowered))
        if len(exact) > 1:
            raise InputError(
                source, canonical, f"several candidate keys {exact}", "exactly one",
                fix=f"choose one with fields: {{{canonical}: <key>}} in the dataset config",
            )
        if exact:
            resolved[canonical] = exact[0]
    require_fields(resolved, available, source, [*REQUIRED, *required])
    return resolved


def require_fields(resolved: Mapping[str, str], available: Iterable[str], source: str,
                   required: Iterable[str]) -> None:
    """Raise for the first required field without a key, listing the keys the file has.

    Readers check the labels a track needs after parsing what is present, so a malformed
    field is reported as such rather than as a missing label.
    """
    for canonical in dict.fromkeys(required):
        if canonical not in resolved:
            raise InputError(
                source, canonical, f"keys {list(available)}",
                f"one of {list(ALIASES[canonical])}",
                fix=f"rename the field or map it with fields: {{{canonical}: <key>}} "
                "in the dataset config",
            )


def brief(value: object, limit: int = 80) -> str:
    """A value for a one-line message (numpy prints arrays over several lines)."""
    text = " ".join(repr(value).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _bad_frames(values: Values) -> np.ndarray:
    if isinstance(values, np.ndarray) and values.dtype != object:
        return np.flatnonzero(~np.isfinite(values.reshape(len(values), -1)).all(axis=1))
    return np.array([i for i, v in enumerate(values) if not np.isfinite(v).all()], dtype=int)


def check_finite(values: Values, source: str, key: str, per_frame: bool = False) -> None:
    """Raise naming the first frame that holds NaN or inf.

    `per_frame` names the frame in the field (`forces (frame 3)`), as for formats that store
    frames one after another.
    """
    bad = _bad_frames(values)
    if len(bad):
        field = f"{key} (frame {bad[0]})" if per_frame else key
        raise InputError(source, field, f"NaN/inf in {len(bad)} frame(s), first {bad[0]}",
                         "finite values", fix="drop or repair those frames")


def tensor_3x3(values: Values, source: str, key: str, per_frame: bool = False) -> np.ndarray:
    """Stress or virial per frame as (n_frames, 3, 3) from 3x3, 9 values or Voigt 6.

    Voigt order is ASE's (xx, yy, zz, yz, xz, xy); 9 values are read row by row, which for a
    symmetric tensor is the same as ASE's column order.
    """
    out = np.empty((len(values), 3, 3))
    for i, raw in enumerate(values):
        try:
            value = np.asarray(raw, dtype=np.float64)
        except (TypeError, ValueError):
            value = None
        if value is not None and value.shape == (6,):
            for k, (a, b) in enumerate(VOIGT):
                out[i, a, b] = out[i, b, a] = value[k]
        elif value is not None and value.shape in ((9,), (3, 3)):
            out[i] = value.reshape(3, 3)
        else:
            field = f"{key} (frame {i})" if per_frame else key
            found = brief(raw) if value is None else f"shape {value.shape}"
            raise InputError(source, field, f"{found} per frame",
                             "3x3, 9 values or 6 Voigt values (xx yy zz yz xz xy)")
    return out


def _extras(candidates: Mapping[str, Values], n_atoms: np.ndarray, kind: str | None,
            ) -> dict[str, np.ndarray]:
    """Numeric arrays with one entry per frame; per-atom ones become object columns."""
    uniform = len(set(n_atoms.tolist())) == 1
    kept: dict[str, np.ndarray] = {}
    for name, values in candidates.items():
        if name in RESERVED:
            continue
        try:
            arrays = [np.asarray(v) for v in values]
        except (TypeError, ValueError):
            continue
        if len(arrays) != len(n_atoms) or any(a.dtype.kind not in "biuf" for a in arrays):
            continue
        shapes = {a.shape for a in arrays}
        atom_like = all(a.ndim >= 1 and len(a) == n for a, n in zip(arrays, n_atoms, strict=True))
        trailing = {a.shape[1:] for a in arrays}
        # uniform files (NPZ) cannot say per-atom from per-frame: a second axis of n_atoms is
        # taken as per-atom, so charges (n_frames, n_atoms) match those of extended XYZ
        if atom_like and len(trailing) == 1 and (kind == ATOM or (kind is None and uniform
                                                                  and arrays[0].ndim >= 1)):
            kept[name] = per_atom([np.ascontiguousarray(a) for a in arrays])
        elif kind != ATOM and len(shapes) == 1:
            kept[name] = np.stack(arrays) if arrays[0].ndim else np.array(arrays)
    return kept


def assemble(
    source: str,
    keys: Mapping[str, str],
    values: Mapping[str, Values],
    units: Mapping[str, str] | None = None,
    extras: Mapping[str, Values] | None = None,
    atom_extras: Mapping[str, Values] | None = None,
    frame_extras: Mapping[str, Values] | None = None,
    per_frame: bool = False,
    fields: Mapping[str, str] | None = None,
) -> FrameSet:
    """FrameSet in eV, Å, eV/Å (stress eV/Å³, virial eV) from values in the file's units.

    `values` maps canonical names to per-frame values, either stacked (n_frames, ...) or one
    array per frame; shapes of positions, numbers, energy and forces are checked by the reader,
    which knows its layout. `keys` names each field's key in the file for messages. Extras are
    kept in the file's units: `extras` are sorted into per-atom or per-frame by shape,
    `atom_extras` and `frame_extras` come from formats that say which they are. Electrostatic
    labels among them (charges, dipoles, quadrupoles, ESP) become columns in internal units,
    `fields` naming their keys where the aliases do not.
    """
    units = dict(units or {})
    length = length_factor(units.get("length", "angstrom"), source)
    energy_unit = units.get("energy", "eV")
    e_factor = energy_factor(energy_unit, source)
    f_factor = force_factor(units.get("forces", f"{energy_unit}/{units.get('length', 'angstrom')}"),
                            source)
    s_factor = stress_factor(
        units.get("stress", f"{energy_unit}/{units.get('length', 'angstrom')}^3"), source)

    def finite(name: str, data: Values) -> Values:
        check_finite(data, source, keys.get(name, name), per_frame)
        return data

    positions = finite("positions", values["positions"])
    numbers = [np.asarray(z, dtype=np.int64) for z in values["numbers"]]
    fs = FrameSet(numbers=numbers, positions=[np.asarray(r, np.float64) * length
                                              for r in positions])
    n_atoms = fs.n_atoms
    if "energy" in values:
        fs.energy = np.asarray(finite("energy", values["energy"]), np.float64) * e_factor
    if "forces" in values:
        fs.forces = [np.asarray(f, np.float64) * f_factor for f in finite("forces",
                                                                          values["forces"])]
    if "cell" in values:
        fs.cell = np.asarray(finite("cell", values["cell"]), np.float64) * length
        fs.pbc = np.asarray(values["pbc"], dtype=bool)
    for name, factor in (("stress", s_factor), ("virial", e_factor)):
        if name in values:
            key = keys.get(name, name)
            setattr(fs, name, finite(name, tensor_3x3(values[name], source, key, per_frame))
                    * factor)
    if "charges" in values:
        charges = []
        for i, (q, n) in enumerate(zip(values["charges"], n_atoms, strict=True)):
            field = f"{keys['charges']} (frame {i})" if per_frame else keys["charges"]
            try:
                q = np.asarray(q, np.float64).reshape(-1)
            except (TypeError, ValueError):
                raise InputError(source, field, brief(q), "numbers") from None
            if len(q) != n:
                raise InputError(source, field, f"{len(q)} values", f"one per atom ({n})")
            charges.append(q)
        fs.extras["charges"] = per_atom(finite("charges", charges))
    groups = ((extras, None), (atom_extras, ATOM), (frame_extras, FRAME))
    candidates = {k: (kind, v) for group, kind in groups for k, v in (group or {}).items()}
    columns, used = electrostatic_columns(candidates, n_atoms, source, units, fields, length,
                                          fs.extras.get("charges"))
    fs.extras.update(columns)
    for group, kind in groups:
        rest = {k: v for k, v in (group or {}).items() if k not in used}
        for name, column in _extras(rest, n_atoms, kind).items():
            fs.extras.setdefault(name, column)
    return fs
