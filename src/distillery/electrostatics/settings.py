"""Settings of the electrostatics track: the PySCF reference, the teacher charge models
(atom-centred and distributed charges), the distilled student, evaluation and goals. Plain
settings only (no JAX), so that loading a config stays light.

The global `electrostatics:` block is the default; a dataset's own `electrostatics:` block
overrides any part of it.
"""

from __future__ import annotations

from pydantic import Field, PositiveFloat, PositiveInt

from distillery.base_settings import Settings
from distillery.potentials.settings import ModelSettings
from distillery.train.settings import ScheduleSettings

# every model an electrostatics dataset can train, in the order they are trained
MODELS = ("teacher", "teacher_dcm", "student")


class EspReferenceSettings(Settings):
    """Which frames are labelled and how."""

    method: str = "HF"
    """HF, or a PySCF functional name (B3LYP)."""
    basis: str = "6-31G*"
    """Basis set (PySCF name)."""
    n_frames: int = Field(200, ge=1)
    """Frames labelled, spread evenly over the source frames."""
    n_points: int = Field(300, ge=1)
    """ESP points per frame."""
    scales: tuple[float, ...] = Field((1.4, 1.6, 1.8, 2.0), min_length=1)
    """Shells of ESP points at these multiples of the vdW radii."""
    density: float = Field(1.0, gt=0)
    """Surface points per Å² before `n_points` are drawn."""
    charge: int = 0
    """Total charge of the molecule in e."""
    conv_tol: float = Field(1e-9, gt=0)
    """SCF energy convergence in Hartree."""


class ChargeModelSettings(Settings):
    """A charge head on a force-field representation, atom-centred or with off-centre
    charges."""

    model: ModelSettings = ModelSettings()
    """The representation network, as for a force field."""
    n_dcm: int = Field(0, ge=0, le=8)
    """Off-centre charges per atom (DCM); 0: atom-centred charges only."""
    max_offset: PositiveFloat = 0.5
    """Largest displacement of an off-centre charge from its atom, in Å."""
    conserve_charge: bool = True
    """Hold the total charge exactly (a mean shift); false: only learned through its loss."""


class LossWeights(Settings):
    """Weight of each mean-square loss, in the units its metric reports (see
    `distillery.electrostatics.training`)."""

    esp: float = Field(1.0, ge=0)
    """ESP on the grid points, (kcal/mol/e)²."""
    dipole: float = Field(1.0, ge=0)
    """Dipole components, D²."""
    quadrupole: float = Field(0.1, ge=0)
    """Quadrupole components, (D·Å)²."""
    total_charge: float = Field(1.0, ge=0)
    """Total charge, e²; acts only when the charge is not conserved exactly."""
    mono: float = Field(0.0, ge=0)
    """Per-atom charges, e²: the teacher's charges for a student; reference (Mulliken)
    charges are no target by default."""


class ChargeTrainSettings(Settings):
    """Optimisation of the charge head; early stopping on the validation ESP RMSE."""

    epochs: PositiveInt = 100
    """Passes over the training frames."""
    batch_size: PositiveInt = 8
    """Frames per batch."""
    schedule: ScheduleSettings = ScheduleSettings()
    """Learning-rate schedule."""
    clip_norm: PositiveFloat = 10.0
    """Global gradient norm clipped to."""
    patience: int = Field(0, ge=0)
    """Epochs without a better validation ESP RMSE before stopping; 0 = off."""
    weights: LossWeights = LossWeights()
    """Weights of the losses."""
    seed: int | None = None
    """Seed of initialisation and shuffling; null: the dataset's seed (0 outside a
    workflow)."""


class ReferenceSettings(EspReferenceSettings):
    """PySCF labels of frames of another (molecular) dataset, written by the rule
    `es_reference` to `data/raw/esp/<dataset>.npz`: the file a dataset's `raw` names to
    label in the run, or the one to ship."""

    source: str
    """The dataset whose ingested frames are labelled."""


class ChargeRoleSettings(Settings):
    """Architecture and training of one charge model."""

    charges: ChargeModelSettings
    """The charge head and its representation network."""
    train: ChargeTrainSettings = ChargeTrainSettings()
    """Training of the charge model."""


class EsDistillSettings(Settings):
    """The student's training set: the training frames and displaced copies of them, every
    one labelled by the teacher (a copy keeps its frame's ESP points)."""

    copies: int = Field(2, ge=0)
    """Randomly displaced copies of each training frame."""
    sigma: PositiveFloat = 0.03
    """Standard deviation of the displacements in Å, per Cartesian component."""


class EsEvaluateSettings(Settings):
    """Test-set errors and speed of every model."""

    batch_size: PositiveInt = 16
    """Frames per batch in evaluation and the throughput timing."""
    speed_frames: PositiveInt = 32
    """Test frames timed for throughput."""
    speed_seconds: PositiveFloat = 1.0
    """Minimum timing window per model in s."""


class EsGoalSettings(Settings):
    """Targets of the learned models on the test frames, checked in metrics.json."""

    max_esp_ratio_vs_fit: PositiveFloat = 1.5
    """Largest ESP RMSE of a learned atom-centred model (teacher, student) over that of the
    charges fitted to each test frame's own ESP (the best atom-centred charges can do)."""
    max_dcm_esp_ratio_vs_fit: PositiveFloat = 1.0
    """Largest ESP RMSE of a model with off-centre charges over that of the per-frame fit:
    distributed charges should beat any atom-centred ones."""
    max_dipole_mae: PositiveFloat = 0.1
    """Largest dipole MAE in Debye of every learned model."""


class ElectrostaticsSettings(Settings):
    """The `electrostatics:` block: reference, teachers, student, distillation, goals."""

    reference: ReferenceSettings | None = None
    """How `es_reference` labels another dataset's frames with PySCF; null: no such rule
    (the dataset's raw file comes from elsewhere)."""
    teacher: ChargeRoleSettings = ChargeRoleSettings(
        charges=ChargeModelSettings(model=ModelSettings(kind="painn", features=16)),
        train=ChargeTrainSettings(epochs=60, weights=LossWeights(dipole=20.0)))
    """The atom-centred teacher, trained on the reference labels."""
    teacher_dcm: ChargeRoleSettings | None = ChargeRoleSettings(
        charges=ChargeModelSettings(model=ModelSettings(kind="painn", features=16), n_dcm=2),
        train=ChargeTrainSettings(epochs=60, weights=LossWeights(dipole=20.0)))
    """The same with off-centre charges (`charges.n_dcm`), trained on the reference labels;
    null: none."""
    student: ChargeRoleSettings | None = ChargeRoleSettings(
        charges=ChargeModelSettings(model=ModelSettings(kind="painn", features=8)),
        train=ChargeTrainSettings(
            epochs=30, batch_size=16, schedule=ScheduleSettings(lr=0.01),
            weights=LossWeights(dipole=20.0, mono=1000.0)))
    """A smaller model distilled from `teacher`: it learns the teacher's charges, ESP and
    multipoles on the distillation set; null: none."""
    distill: EsDistillSettings = EsDistillSettings()
    """The student's teacher-labelled training set."""
    evaluate: EsEvaluateSettings = EsEvaluateSettings()
    """Test-set errors and speed."""
    goals: EsGoalSettings = EsGoalSettings()
    """Targets of the learned models."""

    def roles(self) -> dict[str, ChargeRoleSettings]:
        """Every model this block trains, by name (`teacher`, `teacher_dcm`, `student`)."""
        roles = {"teacher": self.teacher, "teacher_dcm": self.teacher_dcm,
                 "student": self.student}
        return {name: role for name, role in roles.items() if role is not None}
