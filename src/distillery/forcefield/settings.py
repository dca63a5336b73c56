"""Settings of the force-field track: teacher, students, distillation, evaluation, export, MD.

The global `forcefield:` block is the default; a dataset's own `forcefield:` block overrides
any part of it (e.g. the MD temperature of a molecule next to a hot metal).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, PositiveFloat, PositiveInt, StringConstraints, model_validator

from distillery.base_settings import Settings
from distillery.models.settings import ModelSettings
from distillery.train.settings import FFTrainSettings

Role = Literal["teacher", "student", "baseline"]
# a size under `students:`: its model is `student_<name>`, its baseline `baseline_<name>`
StudentName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_-]+$")]


def model_role(model: str) -> Role:
    """The role of a force-field model name: `teacher`, `student` or `student_<name>`,
    `baseline` or `baseline_<name>`."""
    if model == "teacher":
        return "teacher"
    for role in ("student", "baseline"):
        if model == role or model.startswith(f"{role}_"):
            return role
    raise ValueError(f"force-field model {model!r}: expected teacher, student[_<name>] or "
                     "baseline[_<name>]")


def baseline_of(student: str) -> str:
    """The baseline model of a student model: `student_small` -> `baseline_small`."""
    return "baseline" + student.removeprefix("student")


class RoleSettings(Settings):
    """Architecture and training of one model role."""

    model: ModelSettings
    train: FFTrainSettings = FFTrainSettings()


class StudentSettings(RoleSettings):
    """A distilled student; `baseline`: also train its architecture on the reference labels
    alone (the like-for-like comparison that shows what the teacher adds)."""

    baseline: bool = True


class TeacherSettings(RoleSettings):
    """Where the teacher comes from. `train`: the model below, trained on the reference labels;
    `ase`: any ASE calculator, `calculator: package.module:Class` built with `kwargs` (e.g.
    `chgnet.model.dynamics:CHGNetCalculator` with `{use_device: cpu}`); `export`: a distillery
    export directory (`export: path/to/export/teacher`). `model`/`train` only serve `train`."""

    source: Literal["train", "ase", "export"] = "train"
    # what the teacher is, as the record, cards and goals treat it. `model`: a model trained
    # here or exported (the distillation case: the student is scored against the reference,
    # with its ratio to the teacher's error); `foundation`: a pretrained model whose labels
    # are the only ones (the student is scored against the teacher's labels); `reference`:
    # the method that wrote the reference labels itself (the student is a surrogate: no
    # teacher-ratio goal). null: `foundation` for an ASE calculator, `model` otherwise.
    type: Literal["model", "foundation", "reference"] | None = None
    calculator: str | None = None
    kwargs: dict[str, Any] = Field(default_factory=dict)
    export: str | None = None
    fd_step: PositiveFloat = 0.01  # Å: central differences of forces (HVPs of non-JAX teachers)

    def teacher_type(self) -> Literal["model", "foundation", "reference"]:
        """`type`, or what the source implies when it is left open."""
        return self.type or ("foundation" if self.source == "ase" else "model")

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

    # model names (`teacher`, `student`, `student_<name>`, `baseline...`) of this dataset
    models: tuple[str, ...] = Field(("student", "teacher"), min_length=1)
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
    """Targets of every distilled student, checked in metrics.json."""

    min_speedup: PositiveFloat = 10.0  # student frames/s over the teacher's
    max_force_mae_ratio: PositiveFloat = 1.25  # student force MAE over the teacher's
    # student force MAE over its baseline's (same architecture, reference labels alone): does
    # distillation pay? Checked for students that have a baseline.
    max_baseline_ratio: PositiveFloat = 0.85
    # eV/Å: student force MAE against a foundation teacher, whose labels are its reference
    max_force_mae_vs_foundation: PositiveFloat = 0.05


class ForcefieldSettings(Settings):
    teacher: TeacherSettings = TeacherSettings(
        model=ModelSettings(kind="painn", features=48, n_layers=3, n_rbf=12, cutoff=4.0),
        train=FFTrainSettings(epochs=10))
    student: StudentSettings = StudentSettings(model=ModelSettings())
    # further student sizes beside `student`, each the model `student_<name>`
    students: dict[StudentName, StudentSettings] = Field(default_factory=dict)
    # training of the baselines (a student's architecture on the reference labels); null: the
    # student's training settings
    baseline_train: FFTrainSettings | None = None
    distill: DistillSettings = DistillSettings()
    evaluate: EvaluateSettings = EvaluateSettings()
    export: ExportSettings = ExportSettings()
    md_stability: MDStabilitySettings = MDStabilitySettings()
    goals: FFGoalSettings = FFGoalSettings()

    @model_validator(mode="after")
    def _md_models_exist(self) -> ForcefieldSettings:
        unknown = [m for m in self.md_stability.models if m not in self.models()]
        if unknown:
            raise ValueError(f"md_stability.models: {unknown} not among the models "
                             f"{list(self.models())}")
        return self

    def student_models(self) -> dict[str, StudentSettings]:
        """Every student by model name: `student`, then `student_<name>` per `students` entry."""
        return {"student": self.student,
                **{f"student_{name}": s for name, s in self.students.items()}}

    def baselines(self) -> dict[str, str]:
        """{baseline model: its student model} for the students with `baseline: true`."""
        return {baseline_of(m): m for m, s in self.student_models().items() if s.baseline}

    def models(self) -> tuple[str, ...]:
        """Every model of the dataset: the teacher, the students, their baselines."""
        return ("teacher", *self.student_models(), *self.baselines())

    def role(self, model: str) -> RoleSettings:
        """Architecture and training of `model`. A student adds the HVP loss when the distill
        set has Hessian-vector-product targets; a baseline is its student's architecture with
        `baseline_train` (few reference frames need other batches and epochs than thousands of
        distilled ones) under the student's seed."""
        if model not in self.models():
            raise ValueError(f"force-field model {model!r}: expected one of {list(self.models())}")
        if model == "teacher":
            return self.teacher
        student = self.student_models()[self.baselines().get(model, model)]
        train = student.train
        if model_role(model) == "student" and self.distill.hvp:
            train = train.model_copy(update={"hvp_weight": self.distill.hvp_weight})
        if model_role(model) == "baseline" and self.baseline_train is not None:
            train = self.baseline_train.model_copy(update={"seed": student.train.seed})
        return RoleSettings(model=student.model, train=train)
