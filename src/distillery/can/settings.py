"""Settings of the CAN intrusion-detection track: window graphs, architectures, KD, goals.

The global `classifier:` block is the default; a dataset's own `classifier:` block overrides
any part of it, and its `windows:` block sets how captures become graphs.
"""

from __future__ import annotations

from typing import Annotated, Literal, get_args

from pydantic import Field, PositiveFloat, PositiveInt, TypeAdapter, model_validator

from distillery.base_settings import Settings
from distillery.train.settings import TorchTrainSettings, run_seed


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


class PayloadSettings(Settings):
    """The per-ID payload model (`distillery.can.payload`), trained on the normal training
    windows without a single attack frame: smoothed histograms of each ID's byte values and
    byte changes between its frames, a window scored by its most surprising (ID, byte)
    statistic, each statistic calibrated by its upper tail on those windows."""

    smoothing: PositiveFloat = 0.5
    """Pseudo-count added to every bin of every histogram (a value never seen in training
    gets this count)."""
    tail_quantile: float = Field(0.9, gt=0, lt=1)
    """Quantile of each statistic on the normal training windows from which its tail is
    fitted (the statistic's zero of surprise)."""
    min_tail_scale: PositiveFloat = 1.0
    """Smallest scale of a statistic's tail, in nats: a statistic that never varies in normal
    traffic (a constant byte) scores its excess over this."""


ArchSettings = Annotated[GATSettings | MLPSettings, Field(discriminator="kind")]
ARCH = TypeAdapter(ArchSettings)
# what a model file may describe: a classifier or the VGAE
MODEL_ARCH = TypeAdapter(Annotated[GATSettings | MLPSettings | VGAESettings,
                                   Field(discriminator="kind")])


class SeedSettings(Settings):
    """Repeats over training seeds of one student, distilled (`<student>_kd`) and from scratch
    (`<student>_scratch`), so that the record gives the mean and standard deviation of their
    macro F1 and unseen-attack AUROC (`summary.seeds`). The model of the dataset's seed keeps
    its name; repeat k (1 .. n - 1) is `<model>_rep<k>`, trained with the training seed plus
    k. Repeats are scored and evaluated like any classifier, are not exported and have no
    record of their own."""

    student: str = "gat_small"
    """The repeated student (a key of `students`, also listed in `scratch`)."""
    n: int = Field(3, ge=2)
    """Seeds per model: the training seed and the next n - 1."""
    teacher: bool = False
    """Repeat the teacher too; KD repeat k then distills from teacher repeat k (off: every KD
    repeat distills from the one teacher, whose spread is then not measured)."""


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
    """Fusion of the supervised GAT's anomaly score with those of the detectors trained on
    normal traffic only (the VGAE and, when configured, the payload model), fitted on
    validation windows: calibrated stacking (logistic regression on all of them) and a DQN
    agent that sees all of them and picks, per window, the weight of the GAT score in a convex
    mix with the strongest of the others (one-step episodes, reward +1 for a correct
    attack/normal decision and -1 for a wrong one, each class weighted equally)."""

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
    stacking_l2: PositiveFloat = 1.0
    """Ridge penalty on the stacking weights (not the intercept): keeps them finite when a
    detector separates every seen attack on the validation windows, where an unpenalised fit
    diverges and its huge weights make the low-FPR thresholds arbitrary."""


class IDSSettings(Settings):
    """Intrusion-detection figures: thresholds at these false-positive rates on the normal
    validation windows; detection latency at the first of them."""

    fprs: tuple[float, ...] = Field((0.01, 0.001), min_length=1)
    """False-positive rates on the normal validation windows that set the thresholds."""
    split_model: str = "stacking"
    """The scored model or fusion whose figures on the four vehicle/attack splits carry the
    split goals (`goals.known_split_macro_f1`, `goals.unknown_split_macro_f1`)."""


class OperatingPointSettings(Settings):
    """Operating points measured on a long attack-free capture of a vehicle trained on (a
    generated one of `duration` s, or `capture`), streamed through the detectors the
    fusions combine and through the fusions, a block of windows at a time: thresholds at
    `fprs` on the capture's first `calibration` share of windows, the false-positive rate and
    false alarms per hour measured on the rest, and the detection rate of the attack test
    windows at each threshold."""

    fprs: tuple[float, ...] = Field((0.01, 0.001, 0.0001), min_length=1)
    """Per-window false-positive rates whose thresholds are set on the calibration windows."""
    calibration: float = Field(0.25, gt=0, lt=1)
    """Share of the capture's windows, from its start, that sets the thresholds; the windows
    after it (none overlapping it) measure the false-positive rate."""
    capture: str | None = None
    """An attack-free capture file of a vehicle trained on (any ingest layout); null: the
    capture of `duration` s that the generator writes (generated datasets only)."""
    duration: PositiveFloat | None = None
    """Length in s of the attack-free capture generated for a dataset of generated captures
    (of `generate.vehicle`: its ECUs, a random stream of its own), when `capture` is null;
    null: none, and no operating points without `capture`."""


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
    unseen_detection: float = Field(0.9, ge=0, le=1)
    """Lowest detection rate of every held-out attack by the payload model, at the first
    false-positive rate of `ids.fprs`."""
    unseen_auroc: float = Field(0.97, ge=0, le=1)
    """Lowest AUROC of every held-out attack (against the normal test windows) of the payload
    model."""
    seeds_max_f1_gap: float = Field(0.01, ge=0)
    """Largest mean macro F1 of the teacher (over its seeds, or its one seed) minus the mean of
    the repeated KD student (`seeds`), on the classes trained on (`macro_f1_seen`)."""
    seeds_kd_over_scratch: float = 1.0
    """Smallest mean macro F1 (classes trained on) of the repeated KD student minus that of
    its twin from scratch, in units of the larger of their two standard deviations over
    seeds (at least `SEED_STD_FLOOR`): 1 is "better by more than one std"."""
    known_split_macro_f1: float = Field(0.95, ge=0, le=1)
    """Lowest macro-F1 (normal against attack windows, alarms at the first `ids.fprs`) of
    `ids.split_model` on the test windows of known vehicles and attacks."""
    unknown_split_macro_f1: float = Field(0.90, ge=0, le=1)
    """Lowest macro-F1 of `ids.split_model` on each of the other three vehicle/attack splits
    (unknown vehicle, unknown attack, both); a split without test windows misses it."""


TEACHER = "teacher"
SEED_STD_FLOOR = 1e-4  # smallest spread over seeds a KD-over-scratch margin is divided by
REPEAT = "_rep"  # `<model>_rep<k>`: seed repeat k of a classifier (`SeedSettings`)
PAYLOAD = "payload"  # the payload model's name among the scored models and in the record
FUSIONS = ("stacking", "dqn")
ModelRole = Literal["teacher", "kd", "scratch"]
# the role's name in the metrics record, shared by every track
RECORD_ROLES: dict[str, str] = {"teacher": "teacher", "kd": "student", "scratch": "baseline"}
ExportFormat = Literal["torchscript", "onnx"]


def repeat_name(model: str, repeat: int) -> str:
    """The name of seed repeat `repeat` of the classifier `model` (0: the model itself)."""
    return f"{model}{REPEAT}{repeat}" if repeat else model


class ClassifierModel(Settings):
    """One classifier of a dataset as the settings define it: the teacher, a student distilled
    from it (role `kd`, model `<student>_kd`) or trained on labels alone (role `scratch`,
    `<student>_scratch`). `kd` is the distillation loss of a `kd` model, else None."""

    name: str
    role: ModelRole
    student: str | None  # the `students` entry; None: the teacher
    arch: ArchSettings
    kd: KDSettings | None = None
    repeat: int = 0  # seed repeat (`SeedSettings`): added to the training seed; 0: the model
    teacher: str | None = None  # the teacher model a `kd` model distills from

    @model_validator(mode="after")
    def _kd_with_role(self) -> ClassifierModel:
        if (self.kd is not None) != self.distilled or (self.teacher is not None) != self.distilled:
            raise ValueError(f"classifier model {self.name!r} ({self.role}): KD settings and "
                             "a teacher are for `kd` models only, and every `kd` model needs "
                             "them")
        return self

    @property
    def distilled(self) -> bool:
        """Trained on the teacher's softened logits (its inputs include the teacher)."""
        return self.role == "kd"

    @property
    def record_role(self) -> str:
        return RECORD_ROLES[self.role]

    @property
    def export_formats(self) -> tuple[ExportFormat, ...]:
        """The distilled students (not their seed repeats) are exported, each as TorchScript
        and as ONNX (the GAT through `MaskedGATConv`, see distillery.can.export)."""
        return get_args(ExportFormat) if self.distilled and not self.repeat else ()


class AnomalyModel(Settings):
    """The VGAE anomaly detector (`vgae`), or the small VGAE distilled from its anomaly scores
    (`vgae_student`, `teacher` names the VGAE it learns from)."""

    name: str
    arch: VGAESettings
    teacher: str | None = None


class SeedLineup(Settings):
    """The seed repeats (`SeedSettings`) in the evaluation: per role (teacher, kd, scratch)
    the models of the seeds, the dataset's seed first, and the training seeds themselves."""

    student: str
    models: dict[str, list[str]]
    seeds: dict[str, list[int]]


class ModelLineup(Settings):
    """Who is who in the evaluation: each classifier's role in the metrics record, the primary
    student's distilled model (compared with the teacher, carries the goals) and its twin
    trained from scratch (None: not trained)."""

    roles: dict[str, str]
    student: str
    scratch: str | None
    seeds: SeedLineup | None = None



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
    scratch: tuple[str, ...] = ("mlp", "gat_small")
    """Students also trained without the teacher."""
    primary_student: str = "mlp"
    """The student compared with the teacher in the summary."""
    kd: KDSettings = KDSettings()
    """The knowledge-distillation loss."""
    seeds: SeedSettings | None = SeedSettings()
    """Seed repeats of one student, distilled and from scratch (and optionally of the
    teacher), for the mean ± std of their figures; null: none."""
    anomaly: VGAESettings = VGAESettings()
    """The VGAE, trained on normal windows only."""
    anomaly_student: VGAESettings | None = VGAESettings(hidden=8, latent=4, heads=2, layers=1)
    """A small VGAE distilled from it (`vgae_kd`: matches its log anomaly scores); null:
    none."""
    payload: PayloadSettings | None = PayloadSettings()
    """The per-ID payload model (`payload`), trained on normal training windows only and
    fused with the teacher and the VGAE; null: none."""
    held_out: tuple[str, ...] = ()
    """Attacks whose windows no model sees in training or validation (unseen-attack
    evaluation)."""
    curriculum: CurriculumSettings = CurriculumSettings()
    """Curriculum learning of the classifiers."""
    fusion: FusionSettings = FusionSettings()
    """Fusion of the GAT's and the VGAE's anomaly scores."""
    ids: IDSSettings = IDSSettings()
    """Intrusion-detection thresholds and latency."""
    operating_points: OperatingPointSettings = OperatingPointSettings()
    """Low false-positive operating points on a long attack-free capture."""
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
        if self.seeds is not None and self.seeds.student not in self.scratch:
            raise ValueError(f"seeds.student: {self.seeds.student!r} must be a student also "
                             f"trained from scratch (`scratch`: {list(self.scratch)})")
        if "normal" in self.held_out:
            raise ValueError("held_out names attacks; normal traffic cannot be held out")
        # a ramp longer than the run would never train on the hardest windows
        if self.curriculum.enabled and self.curriculum.epochs_to_full > self.train.epochs:
            raise ValueError(f"curriculum.epochs_to_full ({self.curriculum.epochs_to_full}) "
                             f"must be at most train.epochs ({self.train.epochs})")
        scored = (*self.scored_models(), *((PAYLOAD,) if self.payload else ()), *FUSIONS)
        if self.ids.split_model not in scored:
            raise ValueError(f"ids.split_model: found {self.ids.split_model!r}, expected one "
                             f"of {list(scored)}")
        return self

    def model_roles(self) -> dict[str, ClassifierModel]:
        """Every classifier by model name: the teacher, `<student>_kd` for every student,
        `<student>_scratch` for the students in `scratch`. The one place that names them."""
        models = [ClassifierModel(name=TEACHER, role="teacher", student=None, arch=self.teacher),
                  *(ClassifierModel(name=f"{s}_kd", role="kd", student=s, arch=arch, kd=self.kd,
                                    teacher=TEACHER) for s, arch in self.students.items()),
                  *(ClassifierModel(name=f"{s}_scratch", role="scratch", student=s,
                                    arch=self.students[s]) for s in self.scratch)]
        if self.seeds is not None:
            repeated = {TEACHER} if self.seeds.teacher else set()
            repeated |= {f"{self.seeds.student}_kd", f"{self.seeds.student}_scratch"}
            models += [m.model_copy(update={
                "name": repeat_name(m.name, k), "repeat": k,
                "teacher": repeat_name(TEACHER, k) if m.distilled and self.seeds.teacher
                else m.teacher})
                for k in range(1, self.seeds.n) for m in models if m.name in repeated]
        return {m.name: m for m in models}

    def model_train(self, model: str) -> TorchTrainSettings:
        """The training settings of the classifier `model`: `train` with the seed of its
        repeat (the training seed plus the repeat's number)."""
        repeat = self.role(model).repeat
        if not repeat:
            return self.train
        return self.train.model_copy(update={"seed": run_seed(self.train.seed) + repeat})

    def models(self) -> tuple[str, ...]:
        """Every classifier of the dataset (`model_roles` order)."""
        return tuple(self.model_roles())

    def role(self, model: str) -> ClassifierModel:
        """Role, architecture and KD settings of the classifier `model`."""
        roles = self.model_roles()
        if model not in roles:
            raise ValueError(f"classifier model {model!r}: expected one of {list(roles)}")
        return roles[model]

    def anomaly_models(self) -> dict[str, AnomalyModel]:
        """The VGAE and, when `anomaly_student` is set, its distilled student."""
        vgae = AnomalyModel(name="vgae", arch=self.anomaly)
        student = ([] if self.anomaly_student is None else
                   [AnomalyModel(name="vgae_student", arch=self.anomaly_student, teacher="vgae")])
        return {m.name: m for m in (vgae, *student)}

    def anomaly_role(self, model: str) -> AnomalyModel:
        models = self.anomaly_models()
        if model not in models:
            raise ValueError(f"anomaly model {model!r}: expected one of {list(models)}")
        return models[model]

    def scored_models(self) -> tuple[str, ...]:
        """Every model that scores windows for the IDS evaluation: the classifiers and the
        anomaly models."""
        return (*self.models(), *self.anomaly_models())

    def exports(self) -> tuple[tuple[str, ExportFormat], ...]:
        """(model, format) of every export (`ClassifierModel.export_formats`)."""
        return tuple((m.name, fmt) for m in self.model_roles().values()
                     for fmt in m.export_formats)

    def seed_lineup(self) -> SeedLineup | None:
        """The models of each seed per role (teacher, kd, scratch) of the seed repeats."""
        if self.seeds is None:
            return None
        student = self.seeds.student
        bases = {"teacher": TEACHER, "kd": f"{student}_kd", "scratch": f"{student}_scratch"}
        roles = self.model_roles()
        models = {role: [base, *(repeat_name(base, k) for k in range(1, self.seeds.n)
                                 if repeat_name(base, k) in roles)]
                  for role, base in bases.items()}
        return SeedLineup(student=student, models=models, seeds={
            role: [run_seed(self.model_train(m).seed) for m in names]
            for role, names in models.items()})

    def lineup(self) -> ModelLineup:
        roles = self.model_roles().values()
        primary = [m for m in roles if m.student == self.primary_student]
        return ModelLineup(
            seeds=self.seed_lineup(),
            roles={m.name: m.record_role for m in roles},
            student=next(m.name for m in primary if m.distilled),
            scratch=next((m.name for m in primary if m.role == "scratch"), None))
