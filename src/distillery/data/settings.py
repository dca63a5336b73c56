"""Settings of a dataset's data part: where its raw files come from, their layout and units,
and how it is split."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal, TypeVar

from pydantic import BaseModel, Field, PositiveFloat, PositiveInt, model_validator

from distillery.base_settings import Settings
from distillery.data.can_layouts import LAYOUTS
from distillery.data.generate.can_bus import VEHICLES
from distillery.data.generate.md_crystal import MdCrystalSettings
from distillery.data.generate.openmm_peptide import OpenmmPeptideSettings
from distillery.data.generate.xtb_molecule import XtbMoleculeSettings
from distillery.tracks import Track

Format = Literal["npz", "extxyz", "can_csv"]


Layout = Literal[("auto", *LAYOUTS)]


class RawEntry(Settings):
    """One raw file; for CAN captures also the attack its flagged rows belong to, its layout
    and the intervals (s from its first frame) inside which every frame is that attack."""

    path: str
    """The file, relative to the working directory or absolute."""
    attack: str = "attack"
    """Label of the file's attack frames (CAN captures)."""
    vehicle: str = "vehicle"
    """Vehicle the capture was recorded on (CAN captures): kept as a column, it sorts test
    windows into known and unknown vehicles (`split.test_vehicles`)."""
    capture: str | None = None
    """Name of the capture; null: the file name without its suffix."""
    layout: Layout | None = None
    """CAN layout of this file; null: the dataset's layout."""
    attack_intervals: tuple[tuple[float, float], ...] = ()
    """Intervals [start, stop) in s from the file's first frame inside which every frame is
    an attack frame."""


class UnitSettings(Settings):
    """Units of the raw files, converted to eV and Å (and e for electrostatics) at ingest."""

    energy: str = "eV"
    """Energy unit: eV, meV, kcal/mol, kJ/mol, Hartree or Ry."""
    length: str = "angstrom"
    """Length unit: angstrom, Bohr, nm or pm."""
    forces: str | None = None
    """Force unit; null: energy/length."""
    stress: str | None = None
    """Stress unit: GPa, kbar, bar or Pa; null: energy/length^3."""
    charge: str | None = None
    """Charge unit of `mono` and total charges; null: e."""
    dipole: str | None = None
    """Dipole unit: debye or e*bohr; null: e*angstrom."""
    quadrupole: str | None = None
    """Quadrupole unit: buckingham or e*bohr^2; null: e*angstrom^2."""
    esp: str | None = None
    """Electrostatic potential unit: hartree/e, kcal/mol/e or kJ/mol/e; null: eV/e."""


class SplitSettings(Settings):
    """random: shuffled frames; blocks: contiguous time blocks of each capture."""

    strategy: Literal["random", "blocks"] = "random"
    """random: shuffled frames; blocks: contiguous time blocks of each capture."""
    train: float = Field(0.8, gt=0, le=1)
    """Fraction of the frames in the training split (train + val + test = 1)."""
    val: float = Field(0.1, ge=0, le=1)
    """Fraction of the frames in the validation split."""
    test: float = Field(0.1, ge=0, le=1)
    """Fraction of the frames in the test split."""
    n_blocks: int = Field(10, ge=3)
    """Contiguous blocks each capture is cut into (blocks strategy)."""
    test_vehicles: tuple[str, ...] = ()
    """CAN vehicles (`vehicle:` tags) whose frames all go to the test split: no model trains,
    validates or sets a threshold on them (the unknown vehicles of the four-split
    evaluation); the fractions split the other frames."""

    @model_validator(mode="after")
    def _fractions(self) -> SplitSettings:
        if abs(self.train + self.val + self.test - 1.0) > 1e-6:
            raise ValueError(f"train + val + test must be 1, found "
                             f"{self.train + self.val + self.test:g}")
        return self


class MdEmtGenerate(Settings):
    """Periodic fcc Cu/Au alloy, Langevin MD with ASE's EMT."""

    kind: Literal["md_emt"]
    """Generator: EMT molecular dynamics of a Cu/Au alloy."""
    n_frames: int = Field(300, ge=10)
    """Saved frames."""
    size: PositiveInt = 3
    """fcc unit cells along each cell edge (4 atoms each: 108 atoms at 3)."""
    gold_fraction: float = Field(0.25, ge=0, le=1)
    """Fraction of the Cu atoms replaced by Au, at random sites."""
    temperature: PositiveFloat = 800.0
    """Temperature in K; the dataset's `temperature` replaces it unless this block sets it."""
    timestep_fs: PositiveFloat = 2.0
    """Time step in fs."""
    stride: int = Field(10, ge=1)
    """MD steps between saved frames."""
    equilibration: int = Field(200, ge=0)
    """MD steps before the first frame."""


class CgChainGenerate(Settings):
    """Bead chain under known bonded terms and repulsion (true parameters written beside it),
    at the dataset's temperature."""

    kind: Literal["cg_chain"]
    """Generator: Langevin dynamics of a coarse-grained bead chain."""
    n_frames: int = Field(2000, ge=10)
    """Saved frames, taken in turn from the replicas."""
    replicas: PositiveInt = 100
    """Independent chains simulated side by side."""
    mass: PositiveFloat = 12.0
    """Bead mass in amu."""
    timestep_ps: PositiveFloat = 0.005
    """Time step in ps."""
    friction: PositiveFloat = 10.0
    """Langevin friction in 1/ps."""
    stride: int = Field(250, ge=1)
    """Langevin steps between saved frames."""
    equilibration: int = Field(4000, ge=0)
    """Langevin steps before the first frame."""


Vehicle = Literal[tuple(VEHICLES)]


class GeneratedCapture(Settings):
    """One generated CAN capture: its vehicle, attack, length and attack bursts."""

    vehicle: Vehicle
    """The generated vehicle the capture is recorded on."""
    attack: str
    """The attack injected in bursts (the label of its frames)."""
    duration: PositiveFloat
    """Length of the capture in s."""
    bursts: PositiveInt
    """Attack bursts in the capture."""

    def entry(self, path: str, capture: str) -> RawEntry:
        """The capture as a tagged `raw:` entry."""
        return RawEntry(path=path, capture=capture, attack=self.attack, vehicle=self.vehicle)


class OtherVehicleCaptures(Settings):
    """Captures of a further generated vehicle, e.g. for the unknown-vehicle evaluation."""

    captures: tuple[str, ...] = Field(min_length=1)
    """One capture per attack, as in `captures`."""
    duration: PositiveFloat = 5.0
    """Length of each capture in s."""
    bursts: PositiveInt = 2
    """Attack bursts per capture."""


class CanBusGenerate(Settings):
    """CAN captures in the Car-Hacking CSV layout with injected attack bursts."""

    kind: Literal["can_bus"]
    """Generator: synthetic CAN-bus captures."""
    captures: tuple[str, ...] = Field(("dos", "fuzzy", "spoofing"), min_length=1)
    """One capture per attack: dos, fuzzy, spoofing, masquerade, replay or masquerade_subtle
    (a masquerade whose forged bytes stay inside their normal ranges)."""
    duration: PositiveFloat = 30.0
    """Length of each capture in s."""
    bursts: PositiveInt = 6
    """Attack bursts per capture."""
    vehicle: Vehicle = "a"
    """The generated vehicle of `captures`: a or b (different ECU IDs, periods, payload
    layouts, counters; docs/classifier.md)."""
    other_vehicles: dict[Vehicle, OtherVehicleCaptures] = Field(default_factory=dict)
    """Captures of further generated vehicles by vehicle, each named `<vehicle>_<attack>`,
    e.g. `{b: {captures: [dos, masquerade]}}` (their frames go to the test split when
    `split.test_vehicles` names the vehicle)."""

    @model_validator(mode="after")
    def _vehicles_differ(self) -> CanBusGenerate:
        if self.vehicle in self.other_vehicles:
            raise ValueError(f"other_vehicles: {self.vehicle!r} is the vehicle of `captures`")
        return self

    def capture_specs(self) -> dict[str, GeneratedCapture]:
        """Every capture by name (its file's stem): those of `captures` named by their
        attack, then those of `other_vehicles`."""
        specs = {a: GeneratedCapture(vehicle=self.vehicle, attack=a, duration=self.duration,
                                     bursts=self.bursts) for a in self.captures}
        for vehicle, other in self.other_vehicles.items():
            specs.update({f"{vehicle}_{a}": GeneratedCapture(
                vehicle=vehicle, attack=a, duration=other.duration, bursts=other.bursts)
                for a in other.captures})
        return specs


GenerateSettings = Annotated[
    MdEmtGenerate | CgChainGenerate | CanBusGenerate | XtbMoleculeSettings
    | OpenmmPeptideSettings | MdCrystalSettings, Field(discriminator="kind")]
G = TypeVar("G", bound=BaseModel)


def at_temperature(generate: G, temperature: float | None) -> G:
    """A generator block with the dataset's `temperature` (the system's), unless the block
    sets its own or has none."""
    if (temperature is None or "temperature" not in type(generate).model_fields
            or "temperature" in generate.model_fields_set):
        return generate
    return generate.model_copy(update={"temperature": temperature})


class DataSettings(Settings):
    """The data part of one dataset entry."""

    track: Track
    """Which track the dataset runs through."""
    format: Format
    """Format of the raw files."""
    raw: str | RawEntry | tuple[str | RawEntry, ...] | None = None
    """The raw files: a path, an entry or a list of them (or `generate`)."""
    generate: GenerateSettings | None = None
    """A generator of the data (or `raw`), chosen by its `kind`."""
    units: UnitSettings = UnitSettings()
    """Units of the raw files."""
    fields: dict[str, str] = Field(default_factory=dict)
    """Canonical field name -> its key in the file (over the readers' aliases), e.g.
    `energy: REF_energy`."""
    on_bad_rows: Literal["error", "skip"] = "error"
    """Malformed CAN rows: stop with an error, or skip and count them."""
    layout: Layout | None = None
    """CAN capture layout; null or auto: detected from the file."""
    temperature: PositiveFloat | None = None
    """Temperature of the system in K: Boltzmann inversion, MD, generators."""
    seed: int | None = None
    """Seed of this dataset's random steps; null: the run's seed."""
    split: SplitSettings = SplitSettings()
    """How the frames are split into train, validation and test."""

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


