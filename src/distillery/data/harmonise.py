"""Map the many field names found in raw molecular files onto the canonical ones."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from distillery.errors import InputError

ALIASES: dict[str, tuple[str, ...]] = {
    "positions": ("R", "positions", "coords", "coordinates", "xyz", "pos"),
    "numbers": ("z", "Z", "numbers", "atomic_numbers", "nuclear_charges", "species"),
    "energy": ("E", "energy", "energies", "U", "total_energy"),
    "forces": ("F", "forces", "force"),
    "cell": ("cell", "lattice", "box"),
    "pbc": ("pbc",),
}
REQUIRED = ("positions", "numbers")


def resolve_fields(
    keys: Iterable[str], source: str, overrides: Mapping[str, str] | None = None
) -> dict[str, str]:
    """Return canonical name -> key in the file; unknown keys are left for extras."""
    available = list(keys)
    overrides = dict(overrides or {})
    resolved: dict[str, str] = {}
    for canonical, key in overrides.items():
        if canonical not in ALIASES:
            raise InputError(
                "config", f"fields.{canonical}", repr(canonical), f"one of {sorted(ALIASES)}"
            )
        if key not in available:
            raise InputError(
                source, key, f"keys {available}", f"a key named {key!r} (fields.{canonical})",
                fix="correct fields in the dataset config",
            )
        resolved[canonical] = key
    lowered = {k.lower(): k for k in available}
    for canonical, aliases in ALIASES.items():
        if canonical in resolved:
            continue
        exact = [a for a in aliases if a in available]
        if not exact:
            exact = list(dict.fromkeys(lowered[a.lower()] for a in aliases if a.lower() in lowered))
        if len(exact) > 1:
            raise InputError(
                source, canonical, f"several candidate keys {exact}", "exactly one",
                fix=f"choose one with fields: {{{canonical}: <key>}} in the dataset config",
            )
        if exact:
            resolved[canonical] = exact[0]
    for canonical in REQUIRED:
        if canonical not in resolved:
            raise InputError(
                source, canonical, f"keys {available}",
                f"one of {list(ALIASES[canonical])}",
                fix=f"rename the field or map it with fields: {{{canonical}: <key>}}",
            )
    return resolved
