"""Architecture of a JAX force field (teacher, student or coarse-grained delta model)."""

from __future__ import annotations

from typing import Literal

from pydantic import PositiveFloat, PositiveInt

from distillery.base_settings import Settings


class ModelSettings(Settings):
    """`kind` painn (equivariant) or schnet (invariant, cheaper); cutoff in Å."""

    kind: Literal["painn", "schnet"] = "schnet"
    features: PositiveInt = 16
    n_layers: PositiveInt = 2
    n_rbf: PositiveInt = 8
    cutoff: PositiveFloat = 3.2
    max_z: PositiveInt = 100
