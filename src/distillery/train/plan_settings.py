"""Settings of the hardware-aware planner: the `plan:` block of the config.

Each development mode has its own budgets: `search_s` bounds the wall time of its search,
`cycle_s` the training run it may choose (epochs x steps per epoch x measured step time).
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, PositiveFloat, PositiveInt

from distillery.base_settings import Settings

Mode = Literal["prototype", "validation", "production"]
# the order a plan searches them in: validation aims between the other two's choices
MODES: tuple[Mode, ...] = ("prototype", "production", "validation")


class SpaceSettings(Settings):
    """Candidates: width x depth of the role's model x batch size. The model's other fields
    (kind, n_rbf, cutoff) stay the role's; batch sizes above the training set are dropped."""

    features: tuple[PositiveInt, ...] = Field((8, 16, 32, 64, 128), min_length=1)
    n_layers: tuple[PositiveInt, ...] = Field((1, 2, 3, 4), min_length=1)
    batch_size: tuple[PositiveInt, ...] = Field((1, 2, 4, 8, 16, 32, 64), min_length=1)


class ModeSettings(Settings):
    search_s: PositiveFloat  # wall time of this mode's search (no trial starts past it)
    cycle_s: PositiveFloat  # the chosen training run must fit in this many seconds
    trials: PositiveInt  # new candidates measured at most
    epochs: PositiveInt | None = None  # null: the role's epochs; else written to the overlay


class PrototypeSettings(ModeSettings):
    """The fastest training run that fits `cycle_s`."""

    search_s: PositiveFloat = 60.0
    cycle_s: PositiveFloat = 120.0
    trials: PositiveInt = 12


class ValidationSettings(ModeSettings):
    """The middle ground: the model nearest the geometric mean of the prototype's and the
    production's parameter counts whose training run fits `cycle_s`."""

    search_s: PositiveFloat = 120.0
    cycle_s: PositiveFloat = 1800.0
    trials: PositiveInt = 20


class ProductionSettings(ModeSettings):
    """The largest model that fits the memory, the data and `cycle_s`, then its largest batch."""

    search_s: PositiveFloat = 300.0
    cycle_s: PositiveFloat = 28800.0
    trials: PositiveInt = 30


class TimingSettings(Settings):
    warmup_steps: PositiveInt = 1  # untimed steps after compiling (peak memory is read here)
    min_steps: PositiveInt = 3  # timed steps at least ...
    min_time_s: float = Field(0.5, ge=0)  # ... and at least this long
    max_steps: PositiveInt = 50


class PlanSettings(Settings):
    """`python -m distillery.plan` and the `plan` rule: measured steps, Optuna TPE search."""

    # the force field the overlay configures; auto: the teacher when the workflow trains it
    # (teacher.source: train), else the student
    role: Literal["auto", "teacher", "student"] = "auto"
    space: SpaceSettings = SpaceSettings()
    prototype: PrototypeSettings = PrototypeSettings()
    validation: ValidationSettings = ValidationSettings()
    production: ProductionSettings = ProductionSettings()
    timing: TimingSettings = TimingSettings()
    # candidates whose step needs more are out of memory; null: what JAX may allocate on the
    # GPU, or ram_fraction of the machine's RAM on the CPU
    memory_limit_mb: PositiveFloat | None = None
    ram_fraction: float = Field(0.5, gt=0, le=1)
    # at most this many parameters per training label (energies and force components), in
    # every mode; null: no cap
    max_params_per_label: PositiveFloat | None = 1.0
    seed: int | None = None  # TPE sampler; null: the dataset's seed
    startup_trials: PositiveInt = 5  # random candidates before TPE models the results

    def mode(self, name: Mode) -> ModeSettings:
        return getattr(self, name)
