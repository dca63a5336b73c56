"""Optimisation settings shared by the training loops: schedule, JAX force-field fits, torch."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, PositiveFloat, PositiveInt

from distillery.base_settings import Settings

ScheduleKind = Literal["cosine", "exponential", "step", "constant"]


def run_seed(seed: int | None) -> int:
    """The seed a loop uses: the configured one, 0 when a loop runs outside a workflow."""
    return 0 if seed is None else int(seed)


class ScheduleSettings(Settings):
    """Linear warmup, then cosine/exponential/step/constant decay of the learning rate."""

    kind: ScheduleKind = "cosine"
    lr: PositiveFloat = 5.0e-3
    warmup_steps: int = Field(30, ge=0)
    # cosine: steps after warmup (null: the rest of the run); exponential: steps per decay_rate
    decay_steps: PositiveInt | None = None
    final_lr_ratio: float = Field(0.02, ge=0, le=1)  # cosine floor as a fraction of lr
    decay_rate: PositiveFloat = 0.1
    step_size: PositiveInt = 1000
    gamma: PositiveFloat = 0.5


class FFTrainSettings(Settings):
    """Training of a JAX force field on energies and forces (teacher, student, delta model)."""

    epochs: PositiveInt = 50
    batch_size: PositiveInt | Literal["auto"] = 4  # auto: the largest batch that fits
    max_batch_size: PositiveInt = 64
    accumulate: PositiveInt = 1  # batches per optimizer step
    schedule: ScheduleSettings = ScheduleSettings()
    clip_norm: PositiveFloat = 10.0
    weight_decay: float = Field(0.0, ge=0)
    ema_decay: float = Field(0.99, ge=0, le=1)
    energy_weight: float = Field(1.0, ge=0)  # per-atom energy MSE (eV/atom)^2
    forces_weight: float = Field(10.0, ge=0)  # force component MSE (eV/Å)^2
    hvp_weight: float = Field(0.0, ge=0)  # Hessian-vector-product MSE, when targets exist
    patience: int = Field(0, ge=0)  # early stopping on the validation loss; 0 = off
    min_delta: float = Field(0.0, ge=0)
    checkpoint_every: int = Field(5, ge=0)
    seed: int | None = None  # null: the dataset's seed (0 outside a workflow)
    progress_interval: float = Field(10.0, ge=0)  # seconds between progress lines


class TorchScheduleSettings(Settings):
    """Per-step schedule of the torch loop, with warmup counted in epochs."""

    kind: ScheduleKind = "cosine"
    warmup_epochs: int = Field(2, ge=0)
    final_lr_ratio: float = Field(0.05, ge=0, le=1)
    decay_rate: PositiveFloat = 0.1
    step_size: PositiveInt = 1000
    gamma: PositiveFloat = 0.5


class TorchTrainSettings(Settings):
    """Training of a torch classifier: AdamW, schedule, clipping, early stopping, bf16 autocast."""

    epochs: PositiveInt = 30
    batch_size: PositiveInt = 64
    lr: PositiveFloat = 3.0e-3
    weight_decay: float = Field(1.0e-4, ge=0)
    schedule: TorchScheduleSettings = TorchScheduleSettings()
    clip_norm: float = Field(1.0, ge=0)  # 0 = off
    patience: int = Field(8, ge=0)
    min_delta: float = Field(0.0, ge=0)
    class_weighting: Literal["balanced", "none"] = "balanced"
    amp: bool = True  # bfloat16 autocast on GPUs that support it; the CPU stays float32
    checkpoint_every: int = Field(0, ge=0)
    progress_interval: float = Field(10.0, ge=0)
    seed: int | None = None  # null: the dataset's seed (0 outside a workflow)
