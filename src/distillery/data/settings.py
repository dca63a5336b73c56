"""Settings of a dataset's data part: where its raw files come from, their layout and units,
and how it is split."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, PositiveFloat, model_validator

from distillery.base_settings import Settings
from distillery.data.can_layouts import LAYOUTS
from distillery.data.generate.openmm_peptide import OpenmmPeptideSettings
from distillery.data.generate.xtb_molecule import XtbMoleculeSettings
from distillery.tracks import Track

Format = Literal["npz", "extxyz", "can_csv"]


Layout = Literal[("auto", *LAYOUTS)]


class RawEntry(Settings):
    """One raw file; for CAN captures also the attack its flagged rows belong to, its layout
    and the intervals (s from its first frame) inside which every frame is that attack."""

    path: str
    attack: str = "attack"
    capture: str | None = None  # null: the file name without its suffix
    layout: Layout | None = None  # null: the dataset's layout
    attack_intervals: tuple[tuple[float, float], ...] = ()


class UnitSettings(Settings):
    energy: str = "eV"  # eV, meV, kcal/mol, kJ/mol, Hartree, Ry
    length: str = "angstrom"  # angstrom, Bohr, nm, pm
    forces: str | None = None  # null: energy/length
    stress: str | None = None  # null: energy/length^3; or GPa, kbar, bar, Pa
    # electrostatic labels (distillery.data.electrostatics); null: the internal unit
    charge: str | None = None  # e
    dipole: str | None = None  # e*angstrom (null), debye, e*bohr
    quadrupole: str | None = None  # e*angstrom^2 (null), buckingham, e*bohr^2
    esp: str | None = None  # eV/e (null), hartree/e, kcal/mol/e, kJ/mol/e


class SplitSettings(Settings):
    """random: shuffled frames; blocks: contiguous time blocks of each capture."""

    strategy: Literal["random", "blocks"] = "random"
    train: float = Field(0.8, gt=0, le=1)
    val: float = Field(0.1, ge=0, le=1)
    test: float = Field(0.1, ge=0, le=1)
    n_blocks: int = Field(10, ge=3)

    @model_validator(mode="after")
    def _fractions(self) -> SplitSettings:
        if abs(self.train + self.val + self.test - 1.0) > 1e-6:
            raise ValueError(f"train + val + test must be 1, found "
                             f"{self.train + self.val + self.test:g}")
        return self


class MdEmtGenerate(Settings):
    """Periodic fcc Cu/Au alloy, Langevin MD with ASE's EMT (null: the generator's default)."""

    kind: Literal["md_emt"]
    n_frames: int | None = Field(None, ge=10)
    stride: int | None = Field(None, ge=1)  # MD steps between saved frames
    equilibration: int | None = Field(None, ge=0)  # MD steps before the first frame


class CgChainGenerate(Settings):
    """Bead chain under known bonded terms and repulsion (true parameters written beside it)."""

    kind: Literal["cg_chain"]
    n_frames: int | None = Field(None, ge=10)
    stride: int | None = Field(None, ge=1)  # Langevin steps between saved frames
    equilibration: int | None = Field(None, ge=0)  # Langevin steps before the first frame


class CanBusGenerate(Settings):
    """CAN captures in the Car-Hacking CSV layout with injected attack bursts."""

    kind: Literal["can_bus"]
    captures: tuple[str, ...] = Field(("dos", "fuzzy", "spoofing"), min_length=1)
    duration: PositiveFloat | None = None  # s per capture; null: the generator's default


GenerateSettings = Annotated[
    MdEmtGenerate | CgChainGenerate | CanBusGenerate | XtbMoleculeSettings
    | OpenmmPeptideSettings, Field(discriminator="kind")]


class DataSettings(Settings):
    """The data part of one dataset entry."""

    track: Track
    format: Format
    raw: str | RawEntry | tuple[str | RawEntry, ...] | None = None
    generate: GenerateSettings | None = None
    units: UnitSettings = UnitSettings()
    fields: dict[str, str] = Field(default_factory=dict)  # internal field -> key in the file
    on_bad_rows: Literal["error", "skip"] = "error"
    layout: Layout | None = None  # CAN capture layout; null or auto: detected from the file
    temperature: PositiveFloat | None = None  # K: Boltzmann inversion, MD, generators
    seed: int | None = None  # null: the run's seed
    split: SplitSettings = SplitSettings()

    @model_validator(mode="after")
    def _one_source(self) -> DataSettings:
        if (self.raw is None) == (self.generate is None):
            raise ValueError("give exactly one of `raw` (your files) or `generate`")
        return self

    def raw_entries(self) -> list[RawEntry]:
        """`raw` as a list of entries, each with its capture name."""
        items = [] if self.raw is None else (
            list(self.raw) if isinstance(self.raw, tuple) else [self.raw])
        entries = [RawEntry(path=i) if isinstance(i, str) else i for i in items]
        return [e if e.capture else e.model_copy(update={"capture": Path(e.path).stem})
                for e in entries]


