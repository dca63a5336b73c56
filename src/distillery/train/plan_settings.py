"""Settings of the hardware-aware planner: the `plan:` block of the config.

Each development mode has its own budgets: `search_s` bounds the wall time of its search,
`cycle_s` the training run it may choose (epochs x steps per epoch x measured step time).
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, PositiveFloat, PositiveInt

from distillery.base_settings import Settings

Mode = Literal["prototype", "validation", "production"]
# the order a plan searches them in: validation aims between the other two's choices
MODES: tuple[Mode, ...] = ("prototype", "production", "validation")
# a mode's budgets, described once here: each mode's class sets its own defaults
SearchSeconds = Annotated[PositiveFloat, Field(
    description="Wall time in s of this mode's search (no trial starts past it).")]
CycleSeconds = Annotated[PositiveFloat, Field(
    description="The chosen training run must fit in this many seconds.")]
Trials = Annotated[PositiveInt, Field(description="New candidates measured at most.")]


class SpaceSettings(Settings):
    """Candidates: width x depth of the role's model x batch size. The model's other fields
    (kind, n_rbf, cutoff) stay the role's; batch sizes above the training set are dropped."""

    features: tuple[PositiveInt, ...] = Field((8, 16, 32, 64, 128), min_length=1)
    """Candidate widths (the model's `features`)."""
    n_layers: tuple[PositiveInt, ...] = Field((1, 2, 3, 4), min_length=1)
    """Candidate depths (the model's `n_layers`)."""
    batch_size: tuple[PositiveInt, ...] = Field((1, 2, 4, 8, 16, 32, 64), min_length=1)
    """Candidate batch sizes."""


class ModeSettings(Settings):
    """The budgets of one development mode."""

    search_s: SearchSeconds
    cycle_s: CycleSeconds
    trials: Trials
    epochs: PositiveInt | None = None
    """Training epochs of the chosen run; null: the role's epochs; else written to the
    overlay."""


class PrototypeSettings(ModeSettings):
    """The fastest training run that fits `cycle_s`."""

    search_s: SearchSeconds = 60.0
    cycle_s: CycleSeconds = 120.0
    trials: Trials = 12


class ValidationSettings(ModeSettings):
    """The middle ground: the model nearest the geometric mean of the prototype's and the
    production's parameter counts whose training run fits `cycle_s`."""

    search_s: SearchSeconds = 120.0
    cycle_s: CycleSeconds = 1800.0
    trials: Trials = 20


class ProductionSettings(ModeSettings):
    """The largest model that fits the memory, the data and `cycle_s`, then its largest batch."""

    search_s: SearchSeconds = 300.0
    cycle_s: CycleSeconds = 28800.0
    trials: Trials = 30


class TimingSettings(Settings):
    """How a candidate's training step is timed."""

    warmup_steps: PositiveInt = 1
    """Untimed steps after compiling (peak memory is read here)."""
    min_steps: PositiveInt = 3
    """Timed steps at least, and at least `min_time_s` long."""
    min_time_s: float = Field(0.5, ge=0)
    """Timing window in s at least."""
    max_steps: PositiveInt = 50
    """Timed steps at most."""


class PlanSettings(Settings):
    """`python -m distillery.plan` and the `plan` rule: measured steps, Optuna TPE search."""

    role: Literal["auto", "teacher", "student"] = "auto"
    """The force field the overlay configures; auto: the teacher when the workflow trains it
    (teacher.source: train), else the student."""
    space: SpaceSettings = SpaceSettings()
    """The candidates searched."""
    prototype: PrototypeSettings = PrototypeSettings()
    """Budgets of the prototype mode: the fastest run that fits."""
    validation: ValidationSettings = ValidationSettings()
    """Budgets of the validation mode: between prototype and production."""
    production: ProductionSettings = ProductionSettings()
    """Budgets of the production mode: the largest model that fits."""
    timing: TimingSettings = TimingSettings()
    """How each candidate's step is timed."""
    memory_limit_mb: PositiveFloat | None = None
    """Candidates whose step needs more MB are out of memory; null: what JAX may allocate on
    the GPU, or ram_fraction of the machine's RAM on the CPU."""
    ram_fraction: float = Field(0.5, gt=0, le=1)
    """Fraction of the machine's RAM a CPU step may use (without `memory_limit_mb`)."""
    max_params_per_label: PositiveFloat | None = 1.0
    """At most this many parameters per training label (energies and force components), in
    every mode; null: no cap."""
    seed: int | None = None
    """Seed of the TPE sampler; null: the dataset's seed."""
    startup_trials: PositiveInt = 5
    """Random candidates before TPE models the results."""

    def mode(self, name: Mode) -> ModeSettings:
        return getattr(self, name)
