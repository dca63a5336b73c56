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
    """CAN frames per window."""
    stride: PositiveInt = 50
    """Frames from the start of one window to the start of the next."""
    label_threshold: float = Field(0.05, gt=0, le=1)
    """Share of attack frames from which a window is labelled with its attack."""


class GATSettings(Settings):
    """GATConv layers with edge weights, optional jumping knowledge, mean+max pooling, MLP head."""

    kind: Literal["gat"] = "gat"
    """Architecture: a graph attention network."""
    hidden: PositiveInt = 32
    """Width of the node embeddings (a multiple of `heads`)."""
    heads: PositiveInt = 4
    """Attention heads per layer."""
    layers: PositiveInt = 3
    """GATConv layers."""
    dropout: float = Field(0.1, ge=0, le=1)
    """Dropout probability."""
    jk: Literal["cat", "max"] | None = "cat"
    """Jumping knowledge over the layers' outputs: concatenated or max; null: the last layer
    only."""
    head_layers: int = Field(1, ge=0)
    """Hidden layers of the MLP head."""

    @model_validator(mode="after")
    def _heads_divide_hidden(self) -> GATSettings:
        if self.hidden % self.heads:
            raise ValueError(f"hidden ({self.hidden}) must be a multiple of heads ({self.heads})")
        return self


class MLPSettings(Settings):
    """Graph-free student: per-node MLP, pooling, MLP head (no message passing)."""

    kind: Literal["mlp"] = "mlp"
    """Architecture: a graph-free MLP."""
    hidden: PositiveInt = 32
    """Width of the hidden layers."""
    layers: int = Field(1, ge=0)
    """Hidden layers of the MLP head."""
    node_layers: int = Field(1, ge=0)
    """Layers of the per-node MLP."""
    dropout: float = Field(0.0, ge=0, le=1)
    """Dropout probability."""
    pools: tuple[Literal["mean", "max", "min"], ...] = Field(("mean", "max", "min"), min_length=1)
    """Poolings of the node features into a window vector, concatenated."""


class VGAESettings(Settings):
    """Variational graph auto-encoder over a window graph: a GAT or GCN encoder to a latent
    vector per node, an inner-product decoder of the window's ID-transition edges and an MLP
    decoder of the standardised node features, both trained on normal windows only. The
    anomaly score of a window is its edge reconstruction loss plus `score_feature_weight` times
    its feature reconstruction error (small by default: on the default data the feature error
    of normal windows is heavy-tailed, and thresholds at low false-positive rates sit in that
    tail)."""

    kind: Literal["vgae"] = "vgae"
    """Architecture: a variational graph auto-encoder."""
    encoder: Literal["gat", "gcn"] = "gat"
    """Encoder layers: GATConv or GCNConv."""
    hidden: PositiveInt = 32
    """Width of the encoder's hidden layers (a multiple of `heads` for gat)."""
    latent: PositiveInt = 16
    """Size of each node's latent vector."""
    heads: PositiveInt = 2
    """Attention heads per layer (gat encoder only)."""
    layers: PositiveInt = 2
    """Encoder layers."""
    dropout: float = Field(0.0, ge=0, le=1)
    """Dropout probability."""
    score_feature_weight: float = Field(0.02, ge=0)
    """Weight of the feature reconstruction error in the anomaly score."""
    kl_weight: float = Field(1.0e-3, ge=0)
    """Weight of the KL term; 0 makes it a plain (deterministic) graph AE."""

    @model_validator(mode="after")
    def _heads_divide_hidden(self) -> VGAESettings:
        if self.encoder == "gat" and self.hidden % self.heads:
            raise ValueError(f"hidden ({self.hidden}) must be a multiple of heads ({self.heads})")
        return self


ArchSettings = Annotated[GATSettings | MLPSettings, Field(discriminator="kind")]
ARCH = TypeAdapter(ArchSettings)
# what a model file may describe: a classifier or the VGAE
MODEL_ARCH = TypeAdapter(Annotated[GATSettings | MLPSettings | VGAESettings,
                                   Field(discriminator="kind")])


class KDSettings(Settings):
    """alpha * T^2 * KL(softmax(t/T) || softmax(s/T)) + (1 - alpha) * CE(hard labels)."""

    temperature: PositiveFloat = 4.0
    """Softmax temperature T of the teacher's and the student's logits."""
    alpha: float = Field(0.7, ge=0, le=1)
    """Weight of the distillation term against the hard-label cross entropy."""


class CurriculumSettings(Settings):
    """Curriculum learning, easy to hard, for the classifiers (teacher, KD and scratch
    students; not the VGAEs). Epoch e (counted from 1) trains on the easiest fraction f(e) of
    each class's training windows: f(1) = `start_fraction`, f(`epochs_to_full`) = 1, by
    `pacing` in between (`linear`; `root`: sqrt(s^2 + (1 - s^2) t), the competence curve of
    Platanios et al. 2019, which adds hard windows sooner). Taking the fraction per class keeps
    every class in every epoch, at the class shares the class weights were computed for.

    Difficulty of a window: `label_margin` is how near its share of attack frames lies to
    `windows.label_threshold` (0: pure normal or pure attack traffic, 1: at the threshold,
    e.g. a window at a burst's edge); it needs no model, so the teacher and the scratch
    students (which must not see the teacher) always use it. `teacher_loss` is the teacher's
    cross entropy on the window's label, for the KD students (`kd_difficulty`)."""

    enabled: bool = False
    """Train on a growing, easiest-first fraction of the windows."""
    kd_difficulty: Literal["teacher_loss", "label_margin"] = "teacher_loss"
    """Difficulty measure of the KD students' windows."""
    pacing: Literal["linear", "root"] = "linear"
    """How the fraction grows from `start_fraction` to 1."""
    start_fraction: float = Field(0.25, gt=0, le=1)
    """Fraction of each class's training windows in the first epoch."""
    epochs_to_full: PositiveInt = 10
    """Epoch from which every training window is used (at most `train.epochs`)."""

    def measure(self, distilled: bool) -> Literal["teacher_loss", "label_margin"]:
        """The difficulty measure of a model: `kd_difficulty` for a KD student, else
        `label_margin`."""
        return self.kd_difficulty if distilled else "label_margin"


class FusionSettings(Settings):
    """Fusion of the supervised GAT's and the VGAE's anomaly scores, both fitted on validation
    windows: calibrated stacking (logistic regression) and a DQN agent that picks, per window,
    the weight of the GAT score in a convex mix of the two (one-step episodes, reward +1 for a
    correct attack/normal decision and -1 for a wrong one, each class weighted equally)."""

    actions: int = Field(11, ge=2)
    """Number of fusion weights the agent picks from: 0, 1/(n-1), ..., 1."""
    decision_z: float = 3.0
    """A mixed score above this many standard deviations of the normal validation windows
    is an alarm."""
    hidden: PositiveInt = 32
    """Width of the Q network's hidden layer."""
    steps: PositiveInt = 2000
    """Training steps of the agent."""
    batch_size: PositiveInt = 128
    """Windows per training step of the agent."""
    lr: PositiveFloat = 3.0e-3
    """Adam learning rate of the Q network."""
    epsilon: tuple[float, float] = (1.0, 0.05)
    """Exploration probability at the first and the last step (linear in between)."""
    seed: int = 0
    """Seed of the agent's initialisation and sampling."""


class IDSSettings(Settings):
    """Intrusion-detection figures: thresholds at these false-positive rates on the normal
    validation windows; detection latency at the first of them."""

    fprs: tuple[float, ...] = Field((0.01, 0.001), min_length=1)
    """False-positive rates on the normal validation windows that set the thresholds."""


class CANEvaluateSettings(Settings):
    """Evaluation batches and the latency measurement of every model."""

    batch_size: PositiveInt = 256
    """Windows per batch, in prediction and in the batched latency."""
    latency_windows: PositiveInt = 50
    """Windows timed one at a time for the batch-1 latency."""
    latency_repeats: PositiveInt = 5
    """Timed repeats of each measurement (the median counts)."""


class CANGoalSettings(Settings):
    """Targets of the classifier track, checked in metrics.json."""

    teacher_macro_f1: float = Field(0.95, ge=0, le=1)
    """Lowest macro F1 of the teacher."""
    max_f1_gap: float = Field(0.02, ge=0)
    """Largest teacher macro F1 minus the primary student's."""
    min_speedup: float = Field(5.0, ge=0)
    """Smallest teacher latency over the primary student's, at batch 1 and batched."""


class ClassifierSettings(Settings):
    """The `classifier:` block: the CAN intrusion-detection models, their training and goals."""

    device: Literal["auto", "cuda", "cpu"] = "auto"
    """Where models train and run; cuda that cannot be met is an error."""
    teacher: GATSettings = GATSettings()
    """Architecture of the supervised teacher."""
    students: dict[str, ArchSettings] = Field(
        default_factory=lambda: {"gat_small": GATSettings(hidden=8, heads=2, layers=1,
                                                          dropout=0.0, jk=None),
                                 "mlp": MLPSettings()}, min_length=1)
    """The students by name, each distilled from the teacher."""
    scratch: tuple[str, ...] = ("mlp",)
    """Students also trained without the teacher."""
    primary_student: str = "mlp"
    """The student compared with the teacher in the summary."""
    kd: KDSettings = KDSettings()
    """The knowledge-distillation loss."""
    anomaly: VGAESettings = VGAESettings()
    """The VGAE, trained on normal windows only."""
    anomaly_student: VGAESettings | None = VGAESettings(hidden=8, latent=4, heads=2, layers=1)
    """A small VGAE distilled from it (`vgae_kd`: matches its log anomaly scores); null:
    none."""
    held_out: tuple[str, ...] = ()
    """Attacks whose windows no model sees in training or validation (unseen-attack
    evaluation)."""
    curriculum: CurriculumSettings = CurriculumSettings()
    """Curriculum learning of the classifiers."""
    fusion: FusionSettings = FusionSettings()
    """Fusion of the GAT's and the VGAE's anomaly scores."""
    ids: IDSSettings = IDSSettings()
    """Intrusion-detection thresholds and latency."""
    train: TorchTrainSettings = TorchTrainSettings()
    """Training of every model of the track."""
    evaluate: CANEvaluateSettings = CANEvaluateSettings()
    """Evaluation batches and latency measurement."""
    goals: CANGoalSettings = CANGoalSettings()
    """Targets checked in metrics.json."""

    @model_validator(mode="after")
    def _students_exist(self) -> ClassifierSettings:
        for name in (*self.scratch, self.primary_student):
            if name not in self.students:
                raise ValueError(f"student {name!r} is not among students {sorted(self.students)}")
        if "normal" in self.held_out:
            raise ValueError("held_out names attacks; normal traffic cannot be held out")
        # a ramp longer than the run would never train on the hardest windows
        if self.curriculum.enabled and self.curriculum.epochs_to_full > self.train.epochs:
            raise ValueError(f"curriculum.epochs_to_full ({self.curriculum.epochs_to_full}) "
                             f"must be at most train.epochs ({self.train.epochs})")
        return self
