"""Settings of the force-field track: teacher, students, distillation, evaluation, export, MD.

The global `forcefield:` block is the default; a dataset's own `forcefield:` block overrides
any part of it (e.g. the MD temperature of a molecule next to a hot metal).
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import Field, PositiveFloat, PositiveInt, StringConstraints, model_validator

from distillery.base_settings import Settings
from distillery.potentials.settings import ModelSettings
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
    """Architecture of the role's force field."""
    train: FFTrainSettings = FFTrainSettings()
    """Training of the role's force field."""


class StudentSettings(RoleSettings):
    """A distilled student; `baseline`: also train its architecture on the reference labels
    alone (the like-for-like comparison that shows what the teacher adds)."""

    baseline: bool = True
    """Also train the student's architecture on the reference labels alone."""
    seeds: PositiveInt = 1
    """Training seeds of the student and its baseline: the first is `train.seed`, each further
    one the next integer, trained as the models `<student>_seed<k>` and `<baseline>_seed<k>`
    (k = 1 .. seeds - 1). The record gives the mean and std of the student/baseline force-MAE
    ratio over the seeds, and the baseline goal checks the mean."""


class TeacherSettings(RoleSettings):
    """Where the teacher comes from. `train`: the model below, trained on the reference labels;
    `ase`: any ASE calculator, `calculator: package.module:Class` built with `kwargs` (e.g.
    `chgnet.model.dynamics:CHGNetCalculator` with `{use_device: cpu}`); `export`: a distillery
    export directory (`export: path/to/export/teacher`). `model`/`train` only serve `train`."""

    source: Literal["train", "ase", "export"] = "train"
    """Where the teacher comes from: train, ase or export."""
    type: Literal["model", "foundation", "reference"] | None = None
    """What the teacher is, as the record, cards and goals treat it. `model`: a model trained
    here or exported (the distillation case: the student is scored against the reference,
    beside its ratio to the teacher's error); `foundation`: a pretrained model whose labels are
    the only ones (the student is scored against the teacher's labels); `reference`: the
    method that wrote the reference labels itself (the student is a surrogate: no
    teacher-ratio goal). null: `foundation` for an ASE calculator, `model` otherwise."""
    calculator: str | None = None
    """ASE calculator as `package.module:Class` (source ase)."""
    kwargs: dict[str, Any] = Field(default_factory=dict)
    """Keyword arguments the calculator is built with (source ase)."""
    export: str | None = None
    """A distillery export directory (source export)."""
    fd_step: PositiveFloat = 0.01
    """Step in Å of the central differences of forces (HVPs of non-JAX teachers)."""

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
    """Randomly displaced copies of the training frames, labelled by the teacher."""

    copies: int = Field(2, ge=0)
    """Randomly displaced copies of each training frame."""
    sigma: PositiveFloat = 0.05
    """Standard deviation of the displacements in Å, per Cartesian component."""


class DistillMDSettings(Settings):
    """Teacher-driven Langevin MD from training frames; its frames join the distill set."""

    starts: int = Field(4, ge=0)
    """Training frames the runs start from, one run each; 0: no teacher MD."""
    steps: PositiveInt = 100
    """MD steps of each run."""
    every: PositiveInt = 10
    """MD steps between frames kept for the distill set."""
    temperature: PositiveFloat | None = None
    """Temperature in K; null: the dataset's temperature."""
    timestep_fs: PositiveFloat = 2.0
    """Time step in fs."""


class DistillSettings(Settings):
    """The distill set: training frames plus teacher-labelled displaced and MD frames."""

    teacher_weight: float = Field(1.0, ge=0, le=1)
    """w of the targets w * teacher + (1 - w) * reference."""
    displace: DisplaceSettings = DisplaceSettings()
    """Randomly displaced copies of the training frames."""
    md: DistillMDSettings = DistillMDSettings()
    """Teacher-driven MD from training frames."""
    hvp: bool = False
    """Add Hessian-vector-product targets along random directions."""
    chunks: PositiveInt = 2
    """Labelling jobs (ff_distill_label), each its own output."""
    hvp_weight: float = Field(1.0, ge=0)
    """Weight of the HVP loss of the students when `hvp` is on."""


class EvaluateSettings(Settings):
    """Test-set errors and speed of every model."""

    batch_size: PositiveInt = 16
    """Frames per batch in evaluation and the throughput timing."""
    speed_frames: PositiveInt = 32
    """Test frames timed for throughput."""
    speed_seconds: PositiveFloat = 3.0
    """Minimum timing window per model in s of the headline throughput (end to end through its
    ASE calculator)."""
    latency_batch_sizes: tuple[PositiveInt, ...] = (1, 8, 64)
    """Batch sizes timed for frames/s and ms per batch (the model alone)."""
    latency_seconds: PositiveFloat = 0.5
    """Minimum timing window in s per batch size, and of the model alone at the evaluation
    batch."""


class ToleranceSettings(Settings):
    """Largest differences between an export and the in-process model."""

    energy_per_atom: PositiveFloat = 1.0e-5
    """Energy tolerance in eV/atom."""
    forces: PositiveFloat = 1.0e-4
    """Force tolerance in eV/Å."""


class ExportSettings(Settings):
    """jax.export (StableHLO) + params.npz per model, runnable without the training code."""

    n_atoms: PositiveInt | None = None
    """Atom count the export is traced for; null: symbolic atom count (any size)."""
    float64: bool = False
    """Trace in double precision."""
    check_frames: PositiveInt = 4
    """Test frames compared between export and in-process model."""
    tolerance: ToleranceSettings = ToleranceSettings()
    """Largest differences allowed in that comparison."""


class RDFSettings(Settings):
    """Radial distribution functions of the MD runs."""

    r_max: PositiveFloat = 5.0
    """Largest distance in Å; below half the cell width for periodic data."""
    bins: int = Field(100, ge=2)
    """Histogram bins up to `r_max`."""


class MDStabilitySettings(Settings):
    """NVE + Langevin runs of the exported models in the JAX engine (an ASE calculator teacher
    in ASE's integrators)."""

    models: tuple[str, ...] = Field(("student", "teacher"), min_length=1)
    """Model names (`teacher`, `student`, `student_<name>`, `baseline...`) of this dataset."""
    starts: PositiveInt = 1
    """Test-split start structures per model and ensemble."""
    steps: PositiveInt = 500
    """MD steps of each run."""
    timestep_fs: PositiveFloat = 2.0
    """Time step in fs."""
    temperature: PositiveFloat | None = None
    """Temperature in K; null: the dataset's temperature."""
    friction_per_ps: PositiveFloat = 10.0
    """Langevin friction in 1/ps."""
    sample_every: PositiveInt = 10
    """MD steps between recorded samples."""
    bond_factor: float = Field(1.5, gt=1)
    """Unstable: an atom's nearest neighbour this many times further than at the start."""
    collapse_factor: float = Field(0.5, gt=0, le=1)
    """Unstable: the closest pair closer than this fraction of the starting closest pair."""
    max_force: PositiveFloat = 50.0
    """Unstable: any |F| above this, in eV/Å."""
    rdf: RDFSettings = RDFSettings()
    """Radial distribution functions of the runs."""


class FFGoalSettings(Settings):
    """Targets of every distilled student, checked in metrics.json."""

    min_speedup: PositiveFloat = 10.0
    """Smallest student frames/s over the teacher's."""
    max_force_mae_ratio: PositiveFloat = 1.25
    """Largest student force MAE over the teacher's."""
    max_baseline_ratio: PositiveFloat = 0.85
    """Largest student force MAE over its baseline's (same architecture, reference labels
    alone): does distillation pay? Checked for students that have a baseline."""
    max_force_mae_vs_foundation: PositiveFloat = 0.05
    """Largest student force MAE in eV/Å against a foundation teacher, whose labels are its
    reference."""
    max_teacher_force_mae: PositiveFloat | None = None
    """Largest force MAE in eV/Å of a `model` teacher against the reference; null: no goal
    (the validation mode sets one for its trained ethanol teacher)."""


class ForcefieldSettings(Settings):
    """The `forcefield:` block: teacher, students, distillation, evaluation, export, MD."""

    teacher: TeacherSettings = TeacherSettings(
        model=ModelSettings(kind="painn", features=48, n_layers=3, n_rbf=12, cutoff=4.0),
        train=FFTrainSettings(epochs=10))
    """The teacher: its source, and architecture and training when it is trained here."""
    student: StudentSettings = StudentSettings(model=ModelSettings())
    """The student distilled from the teacher (the model `student`)."""
    students: dict[StudentName, StudentSettings] = Field(default_factory=dict)
    """Further student sizes beside `student`, each the model `student_<name>`."""
    baseline_train: FFTrainSettings | None = None
    """Training of the baselines (a student's architecture on the reference labels); null:
    the student's training settings. Its `epochs` and `patience` are not read: a baseline may
    train as many epochs as give it at least its student's optimizer steps, and stops early
    after `baseline_patience` epochs without improvement."""
    baseline_patience: PositiveInt = 10
    """Early stopping of every baseline: epochs without improvement of its loss on the
    validation split."""
    distill: DistillSettings = DistillSettings()
    """The distill set the students learn from."""
    evaluate: EvaluateSettings = EvaluateSettings()
    """Test-set errors and speed."""
    export: ExportSettings = ExportSettings()
    """Export of every model with jax.export."""
    md_stability: MDStabilitySettings = MDStabilitySettings()
    """MD runs of the exported models."""
    goals: FFGoalSettings = FFGoalSettings()
    """Targets of every distilled student."""

    @model_validator(mode="after")
    def _sizes_apart_from_seeds(self) -> ForcefieldSettings:
        taken = [n for n in self.students if re.search(r"(^|_)seed[0-9]+$", n)]
        if taken:
            raise ValueError(f"students: {taken}: a size may not be named like a further seed "
                             "(`seed<k>`); rename it")
        return self

    @model_validator(mode="after")
    def _md_models_exist(self) -> ForcefieldSettings:
        unknown = [m for m in self.md_stability.models if m not in self.models()]
        if unknown:
            raise ValueError(f"md_stability.models: {unknown} not among the models "
                             f"{list(self.models())}")
        return self

    def student_models(self) -> dict[str, StudentSettings]:
        """Every student size by model name: `student`, then `student_<name>` per `students`
        entry (each under its first seed; `seed_groups` adds the further seeds)."""
        return {"student": self.student,
                **{f"student_{name}": s for name, s in self.students.items()}}

    def _seeded_students(self) -> dict[str, StudentSettings]:
        """Every student model: each size under each of its seeds."""
        models = {}
        for name, student in self.student_models().items():
            models[name] = student
            for k in range(1, student.seeds):
                train = student.train.model_copy(update={"seed": (student.train.seed or 0) + k})
                models[f"{name}_seed{k}"] = student.model_copy(update={"train": train})
        return models

    def seed_groups(self) -> dict[str, tuple[str, ...]]:
        """{student: its models under every seed, itself first} for students of several
        seeds."""
        return {name: (name, *(f"{name}_seed{k}" for k in range(1, s.seeds)))
                for name, s in self.student_models().items() if s.seeds > 1}

    def seed_replicas(self) -> tuple[str, ...]:
        """The models of the further seeds (students and baselines): trained and evaluated,
        but neither exported nor carded."""
        replicas = [m for group in self.seed_groups().values() for m in group[1:]]
        return (*replicas, *(baseline_of(m) for m in replicas
                             if self._seeded_students()[m].baseline))

    def baselines(self) -> dict[str, str]:
        """{baseline model: its student model} for the students with `baseline: true`."""
        return {baseline_of(m): m for m, s in self._seeded_students().items() if s.baseline}

    def models(self) -> tuple[str, ...]:
        """Every model of the dataset: the teacher, the students under each seed, their
        baselines."""
        return ("teacher", *self._seeded_students(), *self.baselines())

    def role(self, model: str) -> RoleSettings:
        """Architecture and training of `model`. A student adds the HVP loss when the distill
        set has Hessian-vector-product targets; a baseline is its student's architecture with
        `baseline_train` (few reference frames need other batches than thousands of distilled
        ones) under the student's seed, stopping early after `baseline_patience` epochs (its
        epochs are set when it trains, from its student's optimizer steps)."""
        if model not in self.models():
            raise ValueError(f"force-field model {model!r}: expected one of {list(self.models())}")
        if model == "teacher":
            return self.teacher
        student = self._seeded_students()[self.baselines().get(model, model)]
        train = student.train
        if model_role(model) == "student" and self.distill.hvp:
            train = train.model_copy(update={"hvp_weight": self.distill.hvp_weight})
        if model_role(model) == "baseline":
            train = (self.baseline_train or train).model_copy(update={
                "seed": student.train.seed, "patience": self.baseline_patience})
        return RoleSettings(model=student.model, train=train)

    def shared_settings(self, stage: Literal["teacher", "distill"], seed: int) -> dict[str, Any]:
        """What the outputs of a stage depend on besides the dataset's frames and splits
        (`seed`: the dataset's): two datasets of equal such settings, sharing their data, may
        share the stage's outputs. `teacher`: the trained teacher; `distill`: the sampled and
        teacher-labelled distillation set."""
        if stage == "teacher":
            return {"teacher": self.teacher}
        return {"teacher": self.teacher, "distill": self.distill, "seed": seed}
