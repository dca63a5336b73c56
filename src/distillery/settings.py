"""The whole configuration as typed settings, built once from `config/config.yaml`.

Each block is a settings class defined beside the code that uses it (`data.settings`,
`forcefield.settings`, `electrostatics.settings`, `cg.settings`, `can.settings`,
`report.settings`); this module composes
them, merges a dataset's own track blocks over the global ones, and turns validation errors
into one line that names the key. `config/schemas/config.schema.json` is generated from
`Config` (`python -m distillery.settings schema`), so every default lives in exactly one place.

    python -m distillery.settings show [config.yaml ...]   # the resolved settings as YAML
    python -m distillery.settings schema                   # the JSON schema of config files
    python -m distillery.settings diff md--lr0 md--lr1 [--configs config.yaml sweep.yaml]
                                  # what differs between two datasets or sweep variants
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import typing
from collections.abc import Callable, Mapping, Sequence
from functools import cached_property
from pathlib import Path
from typing import Any, Literal, TypeVar

import yaml
from pydantic import BaseModel, Field, ValidationError, field_validator

from distillery.base_settings import Settings
from distillery.can.settings import ClassifierSettings, WindowSettings
from distillery.cg.settings import CGSettings
from distillery.data.settings import DataSettings
from distillery.electrostatics.settings import ChargeRoleSettings, ElectrostaticsSettings
from distillery.errors import ConfigError
from distillery.forcefield.settings import ForcefieldSettings, RoleSettings
from distillery.report.settings import ReportSettings
from distillery.sweeps import SEPARATOR, SweepSettings, nested, variant_dataset, variants
from distillery.tracking.settings import TrackingSettings
from distillery.train.plan_settings import PlanSettings

DATASET_NAME = r"^[A-Za-z0-9_-]+$"
# a model role: its training block takes the dataset's seed
R = TypeVar("R", RoleSettings, ChargeRoleSettings)


class DatasetSettings(DataSettings):
    """One entry under `datasets:`: its data, and overrides of the track blocks for it."""

    forcefield: dict[str, Any] = Field(default_factory=dict)
    """This dataset's force-field settings, merged over the global `forcefield:` block."""
    classifier: dict[str, Any] = Field(default_factory=dict)
    """This dataset's classifier settings, merged over the global `classifier:` block."""
    electrostatics: dict[str, Any] = Field(default_factory=dict)
    """This dataset's electrostatics settings, merged over the global `electrostatics:`
    block."""
    cg: CGSettings = CGSettings()
    """Coarse-graining of a coarse_grained dataset: mapping, priors, delta model, simulation."""
    windows: WindowSettings = WindowSettings()
    """How a classifier dataset's captures become window graphs."""

    def data(self) -> DataSettings:
        """The entry's data part alone (what ingest reads): track blocks left out, so changing
        them does not re-ingest."""
        return DataSettings(**{name: getattr(self, name) for name in DataSettings.model_fields})


class Config(Settings):
    """The top level of a config file."""

    seed: int = 0
    """Seed of every random step; a dataset's own `seed` replaces it for that dataset."""
    results: str = "results"
    """Folder of the workflow's outputs (models, metrics, reports)."""
    conda: Literal["cpu", "cuda"] = "cpu"
    """Which twin of envs/{forcefield,classifier}-*.yaml the rules name for `--sdm conda`."""
    datasets: dict[str, DatasetSettings] = Field(min_length=1)
    """The datasets by name. An entry set to null is left out: an overlay config
    (`--configfile`) can drop a dataset."""
    report: ReportSettings = ReportSettings()
    """The run-wide report: leaderboard, benchmarks table, analytics notebook."""
    forcefield: ForcefieldSettings = ForcefieldSettings()
    """Force-field track defaults: teacher, students, distillation, evaluation, export, MD."""
    classifier: ClassifierSettings = ClassifierSettings()
    """CAN intrusion-detection track defaults: architectures, KD, fusion, training, goals."""
    electrostatics: ElectrostaticsSettings = ElectrostaticsSettings()
    """Electrostatics track defaults: PySCF reference, teacher charge models (atom-centred
    and distributed charges), distilled student, goals."""
    tracking: TrackingSettings = TrackingSettings()
    """MLflow logging of training and evaluation jobs (local SQLite store by default)."""
    sweeps: dict[str, SweepSettings] = Field(default_factory=dict)
    """Named variants of a dataset's settings, each built as the dataset
    `<dataset>--<variant>`."""
    plan: PlanSettings = PlanSettings()
    """Hardware-aware planning of a force field's size and batch
    (`python -m distillery.plan`)."""

    @field_validator("datasets", mode="before")
    @classmethod
    def _drop_null_datasets(cls, value: Any) -> Any:
        if isinstance(value, Mapping):
            return {name: entry for name, entry in value.items() if entry is not None}
        return value


class Resolved:
    """A validated `Config` plus the per-dataset views the rules ask for."""

    def __init__(self, raw: Mapping[str, Any]) -> None:
        self.raw = json.loads(json.dumps(dict(raw)))
        self.config = _validate(Config, overlay(Config, self.raw), "config")
        for name in self.config.datasets:
            _check_name(name)
        # variant dataset name -> (base dataset, its settings with the variant's overrides)
        self.variants: dict[str, tuple[str, DatasetSettings]] = self._sweep_variants()
        for name in self.all_datasets:
            self.forcefield(name)
            self.classifier(name)
            self._check_temperature(name)
            self._check_reference_source(name)

    @property
    def datasets(self) -> dict[str, DatasetSettings]:
        return self.config.datasets

    @cached_property
    def all_datasets(self) -> dict[str, DatasetSettings]:
        """The configured datasets and every sweep variant."""
        return {**self.datasets, **{n: entry for n, (_, entry) in self.variants.items()}}

    def dataset(self, name: str) -> DatasetSettings:
        return self.all_datasets[name]

    def base_dataset(self, name: str) -> str:
        """The dataset whose data a variant shares (a configured dataset: itself)."""
        return self.variants[name][0] if name in self.variants else name

    def first_alike(self, name: str, settings: Callable[[str], Any]) -> str:
        """The first dataset of `name`'s family (its base dataset, then the base's sweep
        variants in order) whose `settings(dataset)` equal `name`'s. The family shares its
        frames and splits, so where `settings` hold everything else some outputs depend on,
        `name` reads that dataset's outputs instead of making its own."""
        base = self.base_dataset(name)
        family = [base, *(n for n, (b, _) in self.variants.items() if b == base)]
        mine = settings(name)
        return next(n for n in family if settings(n) == mine)

    def seed(self, name: str) -> int:
        own = self.dataset(name).seed
        return self.config.seed if own is None else own

    def forcefield(self, name: str) -> ForcefieldSettings:
        """The global `forcefield:` block with the dataset's own block merged over it, and the
        dataset's temperature filled in where the block leaves it open."""
        return self._track_views[("forcefield", name)]

    def classifier(self, name: str) -> ClassifierSettings:
        return self._track_views[("classifier", name)]

    def electrostatics(self, name: str) -> ElectrostaticsSettings:
        """The global `electrostatics:` block with the dataset's own block merged over it and
        the dataset's seed in every training block that leaves it open."""
        return self._track_views[("electrostatics", name)]

    def cg(self, name: str) -> CGSettings:
        """The dataset's `cg:` block with its temperature and seed filled in for simulation."""
        cg = self.dataset(name).cg
        simulate = cg.simulate.model_copy(update={
            "temperature": cg.simulate.temperature or self.dataset(name).temperature,
            "seed": self.seed(name) if cg.simulate.seed is None else cg.simulate.seed})
        delta = None if cg.delta is None else cg.delta.model_copy(
            update={"train": _seeded(cg.delta.train, self.seed(name))})
        return cg.model_copy(update={"simulate": simulate, "delta": delta})

    def datasets_for(self, track: str) -> list[str]:
        return [n for n, d in self.all_datasets.items() if d.track == track]

    def dataset_view(self, name: str) -> dict[str, Any]:
        """Everything a dataset (or sweep variant) runs with: its entry and its resolved
        track block, as plain values (what `config_diff` compares between two variants)."""
        entry = self.dataset(name)
        track = {"forcefield": self.forcefield, "classifier": self.classifier,
                 "coarse_grained": self.cg,
                 "electrostatics": self.electrostatics}[entry.track](name)
        return {"dataset": entry.as_dict(), entry.track: track.model_dump(mode="json")}

    @cached_property
    def _track_views(self) -> dict[tuple[str, str], Any]:
        views: dict[tuple[str, str], Any] = {}
        for name, entry in self.all_datasets.items():
            where = f"datasets.{name}"
            ff = _validate(ForcefieldSettings, overlay(self.config.forcefield, entry.forcefield),
                           f"{where}.forcefield")
            temperature, seed = entry.temperature, self.seed(name)
            views[("forcefield", name)] = ff.model_copy(update={
                "teacher": _seeded_role(ff.teacher, seed),
                "student": _seeded_role(ff.student, seed),
                "students": {n: _seeded_role(s, seed) for n, s in ff.students.items()},
                "md_stability": ff.md_stability.model_copy(
                    update={"temperature": ff.md_stability.temperature or temperature}),
                "distill": ff.distill.model_copy(update={"md": ff.distill.md.model_copy(
                    update={"temperature": ff.distill.md.temperature or temperature})}),
            })
            can = _validate(ClassifierSettings, overlay(self.config.classifier, entry.classifier),
                            f"{where}.classifier")
            views[("classifier", name)] = can.model_copy(
                update={"train": _seeded(can.train, seed)})
            es = _validate(ElectrostaticsSettings,
                           overlay(self.config.electrostatics, entry.electrostatics),
                           f"{where}.electrostatics")
            views[("electrostatics", name)] = es.model_copy(update={
                role: _seeded_role(getattr(es, role), seed) for role in es.roles()})
        return views

    def _sweep_variants(self) -> dict[str, tuple[str, DatasetSettings]]:
        out: dict[str, tuple[str, DatasetSettings]] = {}
        for sweep_name, sweep in self.config.sweeps.items():
            _check_name(sweep_name, "sweeps")
            if sweep.dataset not in self.datasets:
                raise ConfigError(f"config: sweeps.{sweep_name}.dataset: found "
                                  f"{sweep.dataset!r}, expected one of {sorted(self.datasets)}")
            for variant, overrides in variants(sweep_name, sweep).items():
                name = variant_dataset(sweep.dataset, variant)
                if name in out:
                    raise ConfigError(f"config: sweeps.{sweep_name}: variant {variant!r} also "
                                      "made by another sweep, expected unique variant names")
                raw = self.raw["datasets"][sweep.dataset]
                for key, value in overrides.items():
                    raw = deep_merge(raw, nested(key, value))
                entry = _validate(DatasetSettings, overlay(DatasetSettings, raw),
                                  f"sweeps.{sweep_name}")
                out[name] = (sweep.dataset, entry)
        return out

    def _check_reference_source(self, name: str) -> None:
        """An electrostatics dataset's PySCF reference labels frames of a molecular dataset."""
        reference = self.electrostatics(name).reference
        if self.dataset(name).track != "electrostatics" or reference is None:
            return
        molecular = [n for n, d in self.datasets.items() if d.format != "can_csv" and n != name]
        if reference.source not in molecular:
            raise ConfigError(f"config: datasets.{name}.electrostatics.reference.source: found "
                              f"{reference.source!r}, expected one of {molecular}")

    def _check_temperature(self, name: str) -> None:
        """Every temperature a step reads is set once here: the dataset's, or the block's own
        (fitted CG priors need the dataset's: the reference was sampled at it)."""
        entry = self.dataset(name)
        if entry.track == "forcefield":
            ff = self.forcefield(name)
            missing = [f"forcefield.{key}" for key, value in (
                ("md_stability.temperature", ff.md_stability.temperature),
                ("distill.md.temperature", ff.distill.md.temperature)) if value is None]
        elif entry.track == "coarse_grained":
            cg = self.cg(name)
            missing = [] if cg.simulate.temperature else ["cg.simulate.temperature"]
            if cg.priors.file is None and entry.temperature is None:
                raise ConfigError(f"config: datasets.{name}.temperature: missing, expected the "
                                  "reference's temperature in K (fitting the priors needs it), "
                                  "or a prior file in cg.priors.file")
        else:
            missing = []
        if missing:
            raise ConfigError(f"config: datasets.{name}.temperature: missing, expected the "
                              f"system's temperature in K (or set {missing[0]})")


def _seeded(train: Any, seed: int) -> Any:
    """Training settings with the dataset's seed unless the block sets its own."""
    return train if train.seed is not None else train.model_copy(update={"seed": seed})


def _seeded_role(role: R, seed: int) -> R:
    return role.model_copy(update={"train": _seeded(role.train, seed)})


def load(raw: Mapping[str, Any]) -> Resolved:
    """Validate a whole config (as loaded from YAML, overrides already merged)."""
    return Resolved(raw)


def load_files(paths: Sequence[str | Path]) -> Resolved:
    """Validate the config files `paths`, each merged over the ones before it."""
    raw: dict[str, Any] = {}
    for path in paths:
        with open(path, encoding="utf-8") as handle:
            raw = deep_merge(raw, yaml.safe_load(handle) or {})
    return load(raw)


def deep_merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """`override` over `base`, mapping by mapping (lists and scalars are replaced)."""
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def overlay(base: type[BaseModel] | BaseModel, raw: Mapping[str, Any]) -> dict[str, Any]:
    """`raw` over the settings `base` (a class, or an instance whose values count as defaults).

    A partial block keeps the defaults of what it leaves out, also where the default is set
    on the parent field (the teacher's own epochs, the delta model's own learning rate); a
    block of another `kind`, and named mappings such as `students`, replace the default.
    """
    cls = type(base) if isinstance(base, BaseModel) else base
    out = base.model_dump() if isinstance(base, BaseModel) else {}
    for key, value in raw.items():
        field = cls.model_fields.get(key)
        if field is not None and isinstance(value, Mapping):
            current = getattr(base, key) if isinstance(base, BaseModel) else field.default
            if isinstance(current, BaseModel) and value.get("kind", _tag(type(current))) == _tag(
                    type(current)):
                value = overlay(current, value)
            elif isinstance(field.annotation, type) and issubclass(field.annotation, BaseModel):
                value = overlay(field.annotation, value)
            elif typing.get_origin(field.annotation) is dict:
                entry = typing.get_args(field.annotation)[1]
                if isinstance(entry, type) and issubclass(entry, BaseModel):
                    value = {k: overlay(entry, v) if isinstance(v, Mapping) else v
                             for k, v in value.items()}
        out[key] = value
    return out


def _check_name(name: str, where: str = "datasets") -> None:
    if not re.match(DATASET_NAME, name) or SEPARATOR in name:
        raise ConfigError(f"config: {where}.{name}: found an invalid name, expected letters, "
                          f"digits, '_' and '-' only, without {SEPARATOR!r}")


def _validate(cls: type[BaseModel], raw: Any, where: str) -> Any:
    try:
        return cls.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(describe(exc, cls, where)) from None


def describe(exc: ValidationError, cls: type[BaseModel], where: str = "config") -> str:
    """The first validation error as one line: dotted key, what was found, what is allowed."""
    error = exc.errors()[0]
    loc = [str(p) for p in error["loc"]]
    # discriminated unions add the tag name (e.g. `gat`) to the path; users never write it
    key = ".".join([where, *loc]) if where != "config" else ".".join(loc) or "(top level)"
    if error["type"] == "extra_forbidden":
        allowed = _allowed_keys(cls, error["loc"][:-1])
        return (f"config: {key}: unknown key, expected one of {allowed}")
    if error["type"] == "missing":
        return f"config: {key}: missing, this key is required"
    found = error.get("input")
    found_text = json.dumps(found, default=str) if not isinstance(found, Mapping) else "a mapping"
    return f"config: {key}: found {found_text}, expected {error['msg'].lower()}"


def _allowed_keys(cls: type[BaseModel], loc: tuple[Any, ...]) -> list[str]:
    """Field names of the settings class at `loc` (walking nested models, dicts and unions,
    whose tag, e.g. `gat`, pydantic puts into the path)."""
    options: list[Any] = [cls]
    for part in loc:
        models = [m for m in options if isinstance(m, type) and issubclass(m, BaseModel)]
        tagged = [m for m in models if _tag(m) == part]
        if tagged:
            options = tagged
        elif any(m == "dict" for m in options):
            options = _dict_values(options)
        elif models and part in models[0].model_fields:
            options = _models_in(models[0].model_fields[part].annotation)
        else:
            return []
    models = [m for m in options if isinstance(m, type) and issubclass(m, BaseModel)]
    return sorted(models[0].model_fields) if len(models) == 1 else []


def _tag(model: type[BaseModel]) -> Any:
    field = model.model_fields.get("kind")
    return None if field is None else field.default


def _models_in(annotation: Any) -> list[Any]:
    """The settings classes an annotation can hold; `dict` marks a mapping of them."""
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    if origin is dict:
        return ["dict", *[("value", m) for m in _models_in(args[1])]]
    return [m for arg in args for m in _models_in(arg)]


def _dict_values(options: list[Any]) -> list[Any]:
    return [m[1] for m in options if isinstance(m, tuple) and m[0] == "value"]


def json_schema() -> dict[str, Any]:
    """The JSON schema of a config file, generated from the settings classes."""
    schema = Config.model_json_schema()
    entries = schema["properties"]["datasets"]
    entries["additionalProperties"] = {"anyOf": [entries["additionalProperties"],
                                                 {"type": "null"}]}  # null drops a dataset
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "distillery config"
    return schema


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m distillery.settings")
    sub = parser.add_subparsers(dest="command", required=True)
    show = sub.add_parser("show", help="print the resolved settings of config files as YAML")
    show.add_argument("configs", nargs="*", default=["config/config.yaml"])
    sub.add_parser("schema", help="print the JSON schema of config files")
    diff = sub.add_parser("diff", help="print what differs between the settings two datasets "
                                       "or sweep variants run with")
    diff.add_argument("before", help="a dataset or sweep variant (`<dataset>--<variant>`)")
    diff.add_argument("after")
    diff.add_argument("--configs", nargs="+", default=["config/config.yaml"])
    args = parser.parse_args(argv)
    if args.command == "schema":
        print(json.dumps(json_schema(), indent=2))
        return 0
    try:
        resolved = load_files(args.configs)
    except ConfigError as exc:
        print(f"ERROR: {exc}", file=sys.stderr)
        return 1
    if args.command == "diff":
        return _print_diff(resolved, args.before, args.after, parser)
    yaml.safe_dump(resolved.config.as_dict(), sys.stdout, sort_keys=False)
    return 0


def _print_diff(resolved: Resolved, before: str, after: str,
                parser: argparse.ArgumentParser) -> int:
    from distillery.report.config_diff import config_diff  # pandas only for this command

    for name in (before, after):
        if name not in resolved.all_datasets:
            parser.error(f"{name}: not a dataset or sweep variant; expected one of "
                         f"{sorted(resolved.all_datasets)}")
    table = config_diff(resolved.dataset_view(before), resolved.dataset_view(after))
    print(table.to_string(index=False) if len(table) else "no differences")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
