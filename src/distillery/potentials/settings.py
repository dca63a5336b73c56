"""Architecture of a JAX force field (teacher, student or coarse-grained delta model)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, PositiveFloat, PositiveInt, model_validator

from distillery.base_settings import Settings


class NetworkSettings(Settings):
    """What every force-field network takes."""

    max_z: PositiveInt = 100
    """Largest atomic number the per-element energy shifts cover."""


class ModelSettings(NetworkSettings):
    """`kind` painn (equivariant) or schnet (invariant, cheaper); cutoff in Å."""

    kind: Literal["painn", "schnet"] = "schnet"
    """Architecture: painn (equivariant) or schnet (invariant, cheaper)."""
    features: PositiveInt = 16
    """Width of the atom features."""
    n_layers: PositiveInt = 2
    """Message-passing layers."""
    n_rbf: PositiveInt = 8
    """Radial basis functions of the distances."""
    cutoff: PositiveFloat = 3.2
    """Neighbour cutoff in Å."""


class CGnetSettings(NetworkSettings):
    """`kind` cgnet: a feature network for one coarse-grained molecule (CGnet, Wang et al.
    2019): every bead-pair distance, the cosine of every angle and the sine and cosine of
    every dihedral, standardised on the training set, into `depth` tanh layers of `width`
    units. The molecule's bead count, angles and dihedrals (bead index tuples) left null are
    taken from the fitted prior's topology when the delta model is trained."""

    kind: Literal["cgnet"] = "cgnet"
    """Architecture: a CGnet feature network of one molecule."""
    width: PositiveInt = 64
    """Units of each tanh layer."""
    depth: PositiveInt = 3
    """Tanh layers."""
    n_beads: PositiveInt | None = None
    """Beads of the molecule; null: from the fitted prior's topology."""
    angles: tuple[tuple[int, int, int], ...] | None = None
    """Bead index triples of the angles; null: from the fitted prior's topology."""
    dihedrals: tuple[tuple[int, int, int, int], ...] | None = None
    """Bead index quadruples of the dihedrals; null: from the fitted prior's topology."""

    @model_validator(mode="after")
    def _beads_exist(self) -> CGnetSettings:
        used = [i for rows in (self.angles or (), self.dihedrals or ()) for row in rows
                for i in row]
        if self.n_beads is not None and used and not 0 <= min(used) <= max(used) < self.n_beads:
            raise ValueError(f"angles and dihedrals must index beads in [0, {self.n_beads})")
        return self

    @property
    def resolved(self) -> bool:
        """Whether the molecule is set (a model can be built)."""
        return None not in (self.n_beads, self.angles, self.dihedrals)


# any force-field network: atomwise (teachers, students, delta models) or a CGnet (delta models)
AnyModelSettings = Annotated[ModelSettings | CGnetSettings, Field(discriminator="kind")]
