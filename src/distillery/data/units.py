"""Unit conversion to the internal units: eV for energy, Å for length, eV/Å for forces."""

from __future__ import annotations

from ase import units as ase_units

from distillery.errors import InputError

ENERGY_TO_EV: dict[str, float] = {
    "ev": 1.0,
    "mev": 1e-3,
    "kcal/mol": ase_units.kcal / ase_units.mol,
    "kj/mol": ase_units.kJ / ase_units.mol,
    "hartree": ase_units.Hartree,
    "ha": ase_units.Hartree,
    "rydberg": ase_units.Ry,
    "ry": ase_units.Ry,
}

LENGTH_TO_ANGSTROM: dict[str, float] = {
    "angstrom": 1.0,
    "å": 1.0,
    "a": 1.0,
    "ang": 1.0,
    "bohr": ase_units.Bohr,
    "nm": 10.0,
    "pm": 0.01,
}

# pressures as they appear in DFT outputs (VASP writes kBar); sign conventions are not changed
PRESSURE_TO_EV_PER_A3: dict[str, float] = {
    "gpa": ase_units.GPa,
    "kbar": 0.1 * ase_units.GPa,
    "bar": 1e-4 * ase_units.GPa,
    "pa": 1e-9 * ase_units.GPa,
}


def _lookup(table: dict[str, float], unit: str, kind: str, source: str) -> float:
    try:
        return table[unit.strip().lower()]
    except KeyError:
        raise InputError(
            source, f"units.{kind}", repr(unit), f"one of {sorted(table)}",
            fix=f"set units.{kind} in the dataset config to a known unit",
        ) from None


def energy_factor(unit: str, source: str = "config") -> float:
    """Multiply energies in `unit` by this to get eV."""
    return _lookup(ENERGY_TO_EV, unit, "energy", source)


def length_factor(unit: str, source: str = "config") -> float:
    """Multiply lengths in `unit` by this to get Å."""
    return _lookup(LENGTH_TO_ANGSTROM, unit, "length", source)


def force_factor(unit: str, source: str = "config") -> float:
    """Multiply forces in `unit` (written energy/length, e.g. 'kcal/mol/angstrom') by this."""
    energy, _, length = unit.strip().lower().rpartition("/")
    if energy not in ENERGY_TO_EV or length not in LENGTH_TO_ANGSTROM:
        raise InputError(
            source, "units.forces", repr(unit),
            f"'<energy unit>/<length unit>', energy one of {sorted(ENERGY_TO_EV)}, "
            f"length one of {sorted(LENGTH_TO_ANGSTROM)}",
            fix="write force units as energy/length, e.g. 'Hartree/Bohr'",
        )
    return ENERGY_TO_EV[energy] / LENGTH_TO_ANGSTROM[length]


def stress_factor(unit: str, source: str = "config") -> float:
    """Multiply stresses in `unit` ('<energy>/<length>^3', or GPa, kbar, bar, Pa) by this."""
    text = unit.strip().lower().replace(" ", "")
    if text in PRESSURE_TO_EV_PER_A3:
        return PRESSURE_TO_EV_PER_A3[text]
    energy, _, length = text.rpartition("/")
    length = length.removesuffix("^3").removesuffix("**3").removesuffix("3")
    if energy not in ENERGY_TO_EV or length not in LENGTH_TO_ANGSTROM:
        raise InputError(
            source, "units.stress", repr(unit),
            f"'<energy unit>/<length unit>^3' or one of {sorted(PRESSURE_TO_EV_PER_A3)}",
            fix="write stress units as energy/length^3, e.g. 'eV/angstrom^3', or as a pressure",
        )
    return ENERGY_TO_EV[energy] / LENGTH_TO_ANGSTROM[length] ** 3
