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
    """Decay after warmup: cosine, exponential, step or constant."""
    lr: PositiveFloat = 5.0e-3
    """Peak learning rate, reached at the end of warmup."""
    warmup_steps: int = Field(30, ge=0)
    """Optimizer steps of the linear warmup from 0 to `lr`."""
    decay_steps: PositiveInt | None = None
    """cosine: steps after warmup (null: the rest of the run); exponential: steps per
    `decay_rate`."""
    final_lr_ratio: float = Field(0.02, ge=0, le=1)
    """Cosine floor as a fraction of lr."""
    decay_rate: PositiveFloat = 0.1
    """exponential: factor of the learning rate every `decay_steps`."""
    step_size: PositiveInt = 1000
    """step: optimizer steps between decays."""
    gamma: PositiveFloat = 0.5
    """step: factor of the learning rate at each decay."""


class FFTrainSettings(Settings):
    """Training of a JAX force field on energies and forces (teacher, student, delta model)."""

    epochs: PositiveInt = 50
    """Passes over the training frames."""
    batch_size: PositiveInt | Literal["auto"] = 4
    """Frames per batch; auto: the largest batch that fits."""
    max_batch_size: PositiveInt = 64
    """Upper bound of an auto batch size."""
    accumulate: PositiveInt = 1
    """Batches per optimizer step."""
    schedule: ScheduleSettings = ScheduleSettings()
    """Learning-rate schedule."""
    clip_norm: PositiveFloat = 10.0
    """Global gradient norm clipped to."""
    weight_decay: float = Field(0.0, ge=0)
    """Decoupled (AdamW) weight decay."""
    ema_decay: float = Field(0.99, ge=0, le=1)
    """Decay of the exponential moving average of the parameters."""
    energy_weight: float = Field(1.0, ge=0)
    """Weight of the per-atom energy MSE, (eV/atom)^2."""
    forces_weight: float = Field(10.0, ge=0)
    """Weight of the force component MSE, (eV/Å)^2."""
    hvp_weight: float = Field(0.0, ge=0)
    """Weight of the Hessian-vector-product MSE, when targets exist."""
    patience: int = Field(0, ge=0)
    """Early stopping: epochs without improvement of the validation loss; 0 = off."""
    min_delta: float = Field(0.0, ge=0)
    """Smallest decrease of the validation loss that counts as an improvement."""
    checkpoint_every: int = Field(5, ge=0)
    """Epochs between kept epoch checkpoints; 0: only the latest and the best."""
    seed: int | None = None
    """Seed of initialisation and shuffling; null: the dataset's seed (0 outside a
    workflow)."""
    progress_interval: float = Field(10.0, ge=0)
    """Seconds between progress lines."""


class TorchScheduleSettings(Settings):
    """Per-step schedule of the torch loop, with warmup counted in epochs."""

    kind: ScheduleKind = "cosine"
    """Decay after warmup: cosine, exponential, step or constant."""
    warmup_epochs: int = Field(2, ge=0)
    """Epochs of the linear warmup."""
    final_lr_ratio: float = Field(0.05, ge=0, le=1)
    """Cosine floor as a fraction of lr."""
    decay_rate: PositiveFloat = 0.1
    """exponential: factor of the learning rate over the steps after warmup."""
    step_size: PositiveInt = 1000
    """step: optimizer steps between decays."""
    gamma: PositiveFloat = 0.5
    """step: factor of the learning rate at each decay."""


class TorchTrainSettings(Settings):
    """Training of a torch classifier: AdamW, schedule, clipping, early stopping, bf16 autocast."""

    epochs: PositiveInt = 30
    """Passes over the training windows."""
    batch_size: PositiveInt = 64
    """Windows per batch."""
    lr: PositiveFloat = 3.0e-3
    """Peak AdamW learning rate."""
    weight_decay: float = Field(1.0e-4, ge=0)
    """AdamW weight decay."""
    schedule: TorchScheduleSettings = TorchScheduleSettings()
    """Learning-rate schedule."""
    clip_norm: float = Field(1.0, ge=0)
    """Gradient norm clipped to; 0 = off."""
    patience: int = Field(8, ge=0)
    """Early stopping: epochs without improvement of the validation loss; 0 = off."""
    min_delta: float = Field(0.0, ge=0)
    """Smallest decrease of the validation loss that counts as an improvement."""
    class_weighting: Literal["balanced", "none"] = "balanced"
    """Class weights of the loss: inverse class frequency (balanced) or none."""
    amp: bool = True
    """bfloat16 autocast on GPUs that support it; the CPU stays float32."""
    checkpoint_every: int = Field(0, ge=0)
    """Epochs between kept epoch checkpoints; 0: only the latest and the best."""
    progress_interval: float = Field(10.0, ge=0)
    """Seconds between progress lines."""
    seed: int | None = None
    """Seed of initialisation and shuffling; null: the dataset's seed (0 outside a
    workflow)."""
