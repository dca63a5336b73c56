"""Settings of the coarse-grained track: a dataset's `cg:` block (mapping, topology, prior fit
or prior file, delta model, simulation), and the track's models."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, PositiveFloat, PositiveInt, field_validator, model_validator

from distillery.base_settings import Settings
from distillery.potentials.settings import AnyModelSettings, ModelSettings
from distillery.train.settings import FFTrainSettings, ScheduleSettings

# the track's models, its evaluation modes: prior + ML, the prior alone, the ML residual alone
CGModel = Literal["full", "prior-only", "ml-only"]
MODELS: tuple[CGModel, ...] = ("full", "prior-only", "ml-only")
PRIOR_SUFFIXES = (".yaml", ".yml", ".json", ".npz")


class MappingSettings(Settings):
    """identity (one bead per atom) | index (`indices`) | groups (`groups`, `weights`) |
    selection (an MDTraj `selection` of `topology`: one bead per selected atom, each hydrogen
    joins the bead of the atom it is bonded to)."""

    kind: Literal["identity", "index", "groups", "selection"] = "identity"
    """How atoms become beads: identity, index, groups or selection."""
    indices: tuple[int, ...] = ()
    """Atom index of each bead (index mapping)."""
    groups: tuple[tuple[int, ...], ...] = ()
    """Atom indices of each bead (groups mapping)."""
    weights: Literal["mass", "uniform", "selected"] = "mass"
    """Bead position: centre of mass | centroid | the selected atom alone (selection only)."""
    selection: str = "backbone and not element H"
    """MDTraj selection of the bead atoms (selection mapping)."""
    topology: str | None = None
    """PDB of the all-atom molecule (selection mapping)."""
    types: Literal["element", "name", "residue_name"] | tuple[str, ...] = "element"
    """Bead types, which decide the classes that share prior parameters: element of the
    bead's main atom; its atom name (selection: beads of one name share, whatever their
    residue, e.g. the carbonyl C of ACE and of ALA, and NME's methyl C, also named C);
    residue_name (selection: residue and atom name, `ACE:C`, `ALA:C`: one class per residue
    name); or one type per bead, the user's grouping."""


class TopologySettings(Settings):
    """chain (bonds in bead order) | list (`bonds: [[i, j], ...]`) | mapping (bonds between
    beads whose atoms are bonded in the mapping's topology file)."""

    kind: Literal["chain", "list", "mapping"] = "chain"
    """Where the bonds come from: chain, list or mapping."""
    bonds: tuple[tuple[int, int], ...] = ()
    """Bead index pairs of the bonds (list topology)."""


class BinSettings(Settings):
    """Histogram bins of each interaction kind in Boltzmann inversion."""

    bond: int = Field(80, ge=10)
    """Bins of bond lengths."""
    angle: int = Field(90, ge=10)
    """Bins of angles."""
    dihedral: int = Field(72, ge=10)
    """Bins of dihedrals."""
    pair: int = Field(80, ge=10)
    """Bins of non-bonded pair distances."""


class RepulsionSettings(Settings):
    """Excluded volume kT (σ/r)^exponent, σ = onset × the `quantile` of non-bonded distances."""

    exponent: PositiveInt = 12
    """Power of the repulsion."""
    quantile: float = Field(0.001, ge=0, le=1)
    """Quantile of the non-bonded distances that sets σ."""
    onset: PositiveFloat = 0.8
    """σ as a fraction of that quantile."""


class PriorFitSettings(Settings):
    """How the priors are fitted (the fitting keys of the `cg:` block)."""

    fit: Literal["parametric", "spline"] = "parametric"
    """parametric: harmonic bonds and angles, Fourier dihedrals; spline: tabulated PMFs."""
    terms: tuple[Literal["bond", "angle", "dihedral", "pair"], ...] = (
        "bond", "angle", "dihedral", "pair")
    """Interaction kinds that get a prior, each fitted per class of bead types."""
    bins: BinSettings = BinSettings()
    """Histogram bins per interaction kind."""
    min_count: PositiveInt = 5
    """Histogram bins with fewer samples are not fitted."""
    dihedral_order: PositiveInt = 3
    """Fourier terms cos(n phi), sin(n phi), n = 1..order."""
    spline_smoothing: float = Field(1.0, ge=0)
    """Gaussian smoothing of spline tables, in bins."""
    repulsion: RepulsionSettings = RepulsionSettings()
    """Excluded-volume repulsion of non-bonded pairs."""
    topology: TopologySettings = TopologySettings()
    """The bonds between beads."""
    exclusion: int = Field(3, ge=2)
    """Non-bonded pairs are at least this many bonds apart."""


class DeltaSettings(Settings):
    """The ML model trained on reference minus prior energies and forces: an atomwise network
    (`schnet`, `painn`) or a CGnet feature network of the molecule (`cgnet`)."""

    model: AnyModelSettings = ModelSettings(features=32, n_layers=2, n_rbf=16, cutoff=7.0)
    """Architecture of the delta model, chosen by its `kind`."""
    train: FFTrainSettings = FFTrainSettings(
        epochs=20, batch_size=32, checkpoint_every=10,
        schedule=ScheduleSettings(lr=3.0e-3, warmup_steps=20, final_lr_ratio=0.05))
    """Training of the delta model."""


class SimulationSettings(Settings):
    """BAOAB Langevin of prior + ML from test frames, compared with the reference."""

    steps: PositiveInt = 20000
    """Langevin steps of each replica."""
    timestep: PositiveFloat = 0.005
    """Time step in ps."""
    friction: PositiveFloat = 10.0
    """Langevin friction in 1/ps."""
    temperature: PositiveFloat | None = None
    """Temperature in K; null: the dataset's temperature."""
    stride: PositiveInt = 100
    """Steps between recorded frames."""
    starts: PositiveInt = 8
    """Test frames the replicas start from."""
    bond_factor: float = Field(1.5, gt=1)
    """Unstable: a bond above this × the longest reference bond."""
    seed: int | None = None
    """Seed of the Langevin noise; null: the dataset's seed."""
    variables: dict[str, tuple[int, ...]] = Field(default_factory=dict)
    """Named collective variables: 2, 3 or 4 bead indices (distance, angle, IUPAC
    dihedral)."""
    fes: tuple[str, str] = ("end_to_end", "radius_of_gyration")
    """The two collective variables of the free-energy surface: named `variables`,
    end_to_end, radius_of_gyration or bond_<i>, angle_<i>, dihedral_<i> of the topology."""
    bins: int = Field(25, ge=5)
    """Histogram bins per collective variable in the reference comparison."""
    basins: dict[str, dict[str, tuple[float, float]]] = Field(default_factory=dict)
    """Named basins, each a box over collective variables: {variable: [low, high]}, degrees
    for angles and dihedrals, Å otherwise; low > high wraps through ±180°. Their populations
    are compared with the reference's."""
    prior_only: bool = True
    """Also simulate the prior alone, for the comparison."""

    @model_validator(mode="after")
    def _stride_fits(self) -> SimulationSettings:
        if self.steps < self.stride:
            raise ValueError(f"steps ({self.steps}) must be at least stride ({self.stride})")
        return self


class CGGoalSettings(Settings):
    """Targets of the coarse-grained track, checked on the simulated model (`full`, or the
    prior alone without a delta model) in metrics.json."""

    max_fes_js_vs_floor: PositiveFloat = 2.0
    """Largest free-energy JS divergence over the reference-halves JS (the noise floor)."""
    max_fes_js_vs_prior: PositiveFloat | None = 0.5
    """Largest free-energy JS divergence of the full model over the prior alone's; null: no
    such goal (a prior that is already the reference's own potential)."""
    max_basin_error: float = Field(0.03, ge=0, le=1)
    """Largest difference of a basin's population from the reference's (0.03: 3 percentage
    points), over `simulate.basins`."""
    min_stable_fraction: float = Field(1.0, ge=0, le=1)
    """Smallest fraction of the replicas that stay stable."""


class PriorSourceSettings(Settings):
    """Where the priors come from. `file: null`: fitted to the training frames; a path: read
    from that file instead of fitting (`.yaml`/`.yml`/`.json` for parametric terms, `.npz` for
    any, in the layout that `cg_fit_priors` writes), its bead count and types checked against
    the mapping."""

    file: str | None = None
    """A prior file to use instead of fitting (YAML, JSON or NPZ); null: fit the priors."""
    train: bool = False
    """Refine the parametric prior terms jointly with the delta network, from the fitted (or
    the file's) values: log k and x0 of harmonic bonds and angles, the Fourier coefficients of
    dihedrals, log sigma of the repulsion (k and sigma stay positive; spline tables and the
    repulsion's epsilon stay fixed). The refined priors (`delta/priors.npz`) serve the `full`
    model in evaluation and simulation; `prior-only` keeps the fitted ones. Needs a delta
    model."""

    @field_validator("file")
    @classmethod
    def _known_format(cls, file: str | None) -> str | None:
        if file is not None and Path(file).suffix not in PRIOR_SUFFIXES:
            raise ValueError(f"a prior file ending in one of {list(PRIOR_SUFFIXES)}")
        return file


class CGEvaluateSettings(Settings):
    """Which state of the trained delta model `cg_evaluate_modes` and `cg_simulate` use."""

    checkpoint: str | None = Field(None, pattern=r"^[A-Za-z0-9_]+$")
    """A checkpoint of the delta training (`epoch_0010` every `delta.train.checkpoint_every`
    epochs, `best`, `latest`) evaluated and simulated in place of the final model (its EMA
    weights, and its refined priors with `priors.train`); null: the final model."""


class CGSettings(PriorFitSettings):
    """A dataset's `cg:` block."""

    mapping: MappingSettings = MappingSettings()
    """How atoms become beads."""
    priors: PriorSourceSettings = PriorSourceSettings()
    """Where the priors come from: fitted (default) or a user's file."""
    delta: DeltaSettings | None = DeltaSettings()
    """The ML model of the difference between reference and prior; null: the priors alone,
    no network (evaluated and simulated as `prior-only`)."""
    simulate: SimulationSettings = SimulationSettings()
    """Simulation of prior + ML and its comparison with the reference."""
    goals: CGGoalSettings = CGGoalSettings()
    """Targets of the simulated model, checked in metrics.json."""
    evaluate: CGEvaluateSettings = CGEvaluateSettings()
    """The delta model's state that is evaluated and simulated: final, or a checkpoint."""

    @model_validator(mode="after")
    def _delta_options_need_a_delta(self) -> CGSettings:
        if self.delta is None and self.priors.train:
            raise ValueError("priors.train refines the priors with the delta network; "
                             "it needs a delta model (delta is null)")
        if self.delta is None and self.evaluate.checkpoint is not None:
            raise ValueError("evaluate.checkpoint names a checkpoint of the delta training; "
                             "it needs a delta model (delta is null)")
        return self

    def models(self) -> tuple[CGModel, ...]:
        """The models the track evaluates: `full`, `prior-only` and `ml-only` with a delta
        model; `prior-only` alone without one."""
        return MODELS if self.delta is not None else ("prior-only",)

    def role(self, model: str) -> DeltaSettings | None:
        """The network of `model`: the delta model of `full` and `ml-only`, none for
        `prior-only` (the prior needs no network)."""
        if model not in self.models():
            raise ValueError(f"coarse-grained model {model!r}: expected one of "
                             f"{list(self.models())}")
        return None if model == "prior-only" else self.delta

    def simulated(self) -> tuple[CGModel, ...]:
        """The models simulated: `full`, with the prior alone beside it when
        `simulate.prior_only`; the prior alone without a delta model."""
        if self.delta is None:
            return ("prior-only",)
        return ("full", "prior-only") if self.simulate.prior_only else ("full",)

    def fitting(self) -> PriorFitSettings:
        """The part that decides the prior fit (so other changes do not refit the priors)."""
        return PriorFitSettings.model_validate(
            self.model_dump(include=set(PriorFitSettings.model_fields)))
