"""What changed between two ASE structures, for the project's calculators: shared by the
in-process and the exported calculator, and free of model code (an export loads without it)."""

from __future__ import annotations

import numpy as np
from ase import Atoms
from ase.calculators.calculator import all_changes


def system_changes(old: Atoms | None, new: Atoms) -> list[str]:
    """What changed from `old` (the structure of the last results) to `new` among the
    properties a force field reads (positions, numbers, cell, pbc), compared exactly: what
    ASE's `check_state` finds at its default tolerance of 1e-15, without its per-property
    `allclose` calls, which cost a small model's calculator as much as the model itself."""
    if old is None:
        return list(all_changes)
    pairs = (("positions", old.positions, new.positions), ("numbers", old.numbers, new.numbers),
             ("cell", old.cell.array, new.cell.array), ("pbc", old.pbc, new.pbc))
    return [name for name, a, b in pairs if a.shape != b.shape or not np.array_equal(a, b)]
