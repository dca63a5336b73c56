"""Settings of the force-field track: teacher, students, distillation, evaluation, export, MD.

The global `forcefield:` block is the default; a dataset's own `forcefield:` block overrides
any part of it (e.g. the MD temperature of a molecule next to a hot metal).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, PositiveFloat, PositiveInt, model_validator

from distillery.base_settings import Settings
from distillery.models.settings import ModelSettings
from distillery.train.settings import FFTrainSettings

MDModel = Literal["teacher", "student", "baseline"]


class RoleSettings(Settings):
    """Architecture and training of one model role."""

    model: ModelSettings
    train: FFTrainSettings = FFTrainSettings()


class TeacherSettings(RoleSettings):
    """Where the teacher comes from. `train`: the model below, trained on the reference labels;
    `ase`: any ASE calculator, `calculator: package.module:Class` built with `kwargs` (e.g.
    `chgnet.model.dynamics:CHGNetCalculator` with `{use_device: cpu}`); `export`: a distillery
    export directory (`export: path/to/export/teacher`). `model`/`train` only serve `train`."""

    source: Literal["train", "ase", "export"] = "train"
    calculator: str | None = None
    kwargs: dict[str, Any] = Field(default_factory=dict)
    export: str | None = None
    fd_step: PositiveFloat = 0.01  # Å: central differences of forces (HVPs of non-JAX teachers)

    @model_validator(mode="after")
    def _source_complete(self) -> TeacherSettings:
        if self.source == "ase" and not self.calculator:
            raise ValueError("teacher.source ase needs teacher.calculator: package.module:Class")
        if self.source == "export" and not self.export:
            raise ValueError("teacher.source export needs teacher.export: an export directory")
        return self


class DisplaceSettings(Settings):
    copies: int = Field(2, ge=0)  # randomly displaced copies of each training frame
    sigma: PositiveFloat = 0.05  # Å, per Cartesian component


class DistillMDSettings(Settings):
    """Teacher-driven Langevin MD from training frames; its frames join the distill set."""

    starts: int = Field(4, ge=0)
    steps: PositiveInt = 100
    every: PositiveInt = 10
    temperature: PositiveFloat | None = None  # K; null: the dataset's temperature
    timestep_fs: PositiveFloat = 2.0


class DistillSettings(Settings):
    teacher_weight: float = Field(1.0, ge=0, le=1)  # targets: w * teacher + (1 - w) * reference
    displace: DisplaceSettings = DisplaceSettings()
    md: DistillMDSettings = DistillMDSettings()
    hvp: bool = False  # Hessian-vector-product targets along random directions
    chunks: PositiveInt = 2  # labelling jobs (ff_distill_label), each its own output
    hvp_weight: float = Field(1.0, ge=0)


class EvaluateSettings(Settings):
    batch_size: PositiveInt = 16
    speed_frames: PositiveInt = 32  # test frames timed for throughput
    speed_seconds: PositiveFloat = 3.0  # minimum timing window per model
    latency_batch_sizes: tuple[PositiveInt, ...] = (1, 8, 64)  # frames/s and ms per batch
    latency_seconds: PositiveFloat = 0.5  # minimum timing window per batch size


class ToleranceSettings(Settings):
    energy_per_atom: PositiveFloat = 1.0e-5  # eV/atom
    forces: PositiveFloat = 1.0e-4  # eV/Å


class ExportSettings(Settings):
    """jax.export (StableHLO) + params.npz per model, runnable without the training code."""

    n_atoms: PositiveInt | None = None  # null: symbolic atom count (any size)
    float64: bool = False  # trace in double precision
    check_frames: PositiveInt = 4  # test frames compared between export and in-process model
    tolerance: ToleranceSettings = ToleranceSettings()


class RDFSettings(Settings):
    r_max: PositiveFloat = 5.0  # Å; below half the cell width for periodic data
    bins: int = Field(100, ge=2)


class MDStabilitySettings(Settings):
    """NVE + Langevin runs of the exported models through the ASE calculator."""

    models: tuple[MDModel, ...] = Field(("student", "teacher"), min_length=1)
    starts: PositiveInt = 1  # test-split start structures per model and ensemble
    steps: PositiveInt = 500
    timestep_fs: PositiveFloat = 2.0
    temperature: PositiveFloat | None = None  # K; null: the dataset's temperature
    friction_per_ps: PositiveFloat = 10.0
    sample_every: PositiveInt = 10
    bond_factor: float = Field(1.5, gt=1)  # unstable: nearest neighbour this much further
    collapse_factor: float = Field(0.5, gt=0, le=1)  # ... or closest pair this much closer
    max_force: PositiveFloat = 50.0  # ... or any |F| above this (eV/Å)
    rdf: RDFSettings = RDFSettings()


class FFGoalSettings(Settings):
    """Targets of the distilled student, checked in metrics.json."""

    min_speedup: PositiveFloat = 10.0  # student frames/s over the teacher's
    max_force_mae_ratio: PositiveFloat = 1.25  # student force MAE over the teacher's


class ForcefieldSettings(Settings):
    teacher: TeacherSettings = TeacherSettings(
        model=ModelSettings(kind="painn", features=48, n_layers=3, n_rbf=12, cutoff=4.0),
        train=FFTrainSettings(epochs=10))
    student: RoleSettings = RoleSettings(model=ModelSettings())
    # training of the baseline (the student's architecture on the reference labels); null: the
    # student's training settings
    baseline_train: FFTrainSettings | None = None
    distill: DistillSettings = DistillSettings()
    evaluate: EvaluateSettings = EvaluateSettings()
    export: ExportSettings = ExportSettings()
    md_stability: MDStabilitySettings = MDStabilitySettings()
    goals: FFGoalSettings = FFGoalSettings()
