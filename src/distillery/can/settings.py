"""Settings of the CAN intrusion-detection track: window graphs, architectures, KD, goals.

The global `classifier:` block is the default; a dataset's own `classifier:` block overrides
any part of it, and its `windows:` block sets how captures become graphs.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, PositiveFloat, PositiveInt, TypeAdapter, model_validator

from distillery.base_settings import Settings
from distillery.train.settings import TorchTrainSettings


class WindowSettings(Settings):
    """`size` frames per window, a new window every `stride` frames; a window is labelled with
    its attack when at least `label_threshold` of its frames are attack frames."""

    size: int = Field(100, ge=2)
    stride: PositiveInt = 50
    label_threshold: float = Field(0.05, gt=0, le=1)


class GATSettings(Settings):
    """GATConv layers with edge weights, optional jumping knowledge, mean+max pooling, MLP head."""

    kind: Literal["gat"] = "gat"
    hidden: PositiveInt = 32
    heads: PositiveInt = 4
    layers: PositiveInt = 3
    dropout: float = Field(0.1, ge=0, le=1)
    jk: Literal["cat", "max"] | None = "cat"
    head_layers: int = Field(1, ge=0)

    @model_validator(mode="after")
    def _heads_divide_hidden(self) -> GATSettings:
        if self.hidden % self.heads:
            raise ValueError(f"hidden ({self.hidden}) must be a multiple of heads ({self.heads})")
        return self


class MLPSettings(Settings):
    """Graph-free student: per-node MLP, pooling, MLP head (no message passing)."""

    kind: Literal["mlp"] = "mlp"
    hidden: PositiveInt = 32
    layers: int = Field(1, ge=0)
    node_layers: int = Field(1, ge=0)
    dropout: float = Field(0.0, ge=0, le=1)
    pools: tuple[Literal["mean", "max", "min"], ...] = Field(("mean", "max", "min"), min_length=1)


ArchSettings = Annotated[GATSettings | MLPSettings, Field(discriminator="kind")]
ARCH = TypeAdapter(ArchSettings)


class KDSettings(Settings):
    """alpha * T^2 * KL(softmax(t/T) || softmax(s/T)) + (1 - alpha) * CE(hard labels)."""

    temperature: PositiveFloat = 4.0
    alpha: float = Field(0.7, ge=0, le=1)


class CANEvaluateSettings(Settings):
    batch_size: PositiveInt = 256
    latency_windows: PositiveInt = 50
    latency_repeats: PositiveInt = 5


class CANGoalSettings(Settings):
    teacher_macro_f1: float = Field(0.95, ge=0, le=1)
    max_f1_gap: float = Field(0.02, ge=0)  # teacher macro F1 minus the primary student's
    min_speedup: float = Field(5.0, ge=0)  # teacher latency over the student's


class ClassifierSettings(Settings):
    device: Literal["auto", "cuda", "cpu"] = "auto"  # cuda that cannot be met is an error
    teacher: GATSettings = GATSettings()
    students: dict[str, ArchSettings] = Field(
        default_factory=lambda: {"gat_small": GATSettings(hidden=8, heads=2, layers=1,
                                                          dropout=0.0, jk=None),
                                 "mlp": MLPSettings()}, min_length=1)
    scratch: tuple[str, ...] = ("mlp",)  # students also trained without the teacher
    primary_student: str = "mlp"  # the student compared with the teacher in the summary
    kd: KDSettings = KDSettings()
    train: TorchTrainSettings = TorchTrainSettings()
    evaluate: CANEvaluateSettings = CANEvaluateSettings()
    goals: CANGoalSettings = CANGoalSettings()

    @model_validator(mode="after")
    def _students_exist(self) -> ClassifierSettings:
        for name in (*self.scratch, self.primary_student):
            if name not in self.students:
                raise ValueError(f"student {name!r} is not among students {sorted(self.students)}")
        return self
