"""A whole plan for one dataset: measure, search each mode, write overlays and the record,
log the MLflow run."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from distillery.errors import ConfigError
from distillery.forcefield.settings import ForcefieldSettings
from distillery.io import write_json
from distillery.plan.data import load_plan_data, plan_role
from distillery.plan.measure import Candidate, Measurement, StepMeter
from distillery.plan.memory import MemoryProbe
from distillery.plan.output import (
    mode_record,
    overlay,
    plan_dir,
    summary_line,
    trial_rows,
    write_overlay,
    write_table,
)
from distillery.plan.search import ModeResult, ModeRule, Space, choose_from_all, search_mode
from distillery.settings import DatasetSettings, Resolved
from distillery.tracking import NullRun
from distillery.train.jax_device import describe_jax_device, jax_device
from distillery.train.plan_settings import MODES, Mode, PlanSettings

PLAN_JSON, TABLE = "plan.json", "step_times.csv"


def plan_outputs(results: str | Path, dataset: str, modes: Sequence[Mode]) -> dict[str, Path]:
    """The files a plan writes: `<mode>` overlays, `plan` (plan.json), `table` (CSV)."""
    directory = plan_dir(results, dataset)
    return {**{mode: directory / f"{mode}.yaml" for mode in modes},
            "plan": directory / PLAN_JSON, "table": directory / TABLE}


@dataclass(frozen=True)
class PlanTarget:
    """A force-field dataset as the plan needs it: its entry, resolved `forcefield:` block
    and seed."""

    dataset: str
    entry: DatasetSettings
    forcefield: ForcefieldSettings
    seed: int


def plan_target(resolved: Resolved, dataset: str) -> PlanTarget:
    choices = sorted(set(resolved.datasets_for("forcefield")) & set(resolved.datasets))
    if dataset not in choices:
        raise ConfigError(f"plan: dataset {dataset!r}: expected a force-field dataset, one of "
                          f"{choices}")
    return PlanTarget(dataset, resolved.dataset(dataset), resolved.forcefield(dataset),
                      resolved.seed(dataset))


def run_plan(target: PlanTarget, settings: PlanSettings, modes: Sequence[Mode],
             results: str | Path, run: NullRun | None = None,
             log: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Plan `modes` (searched in the order of `MODES`) for a force-field dataset on the device
    JAX uses; returns plan.json's content. Raises a one-line ConfigError naming the modes for
    which nothing fits (after writing plan.json, which shows why)."""
    run, log = run or NullRun(), log or _say
    dataset, forcefield = target.dataset, target.forcefield
    role, role_settings = plan_role(forcefield, settings.role, dataset)
    seed = target.seed if settings.seed is None else settings.seed
    device = jax_device()
    probe = MemoryProbe(device)
    limit, limit_source = ((settings.memory_limit_mb, "plan.memory_limit_mb")
                           if settings.memory_limit_mb is not None
                           else probe.default_limit(settings.ram_fraction))
    data = load_plan_data(target.entry, dataset, forcefield, role, results, seed,
                          max(settings.space.batch_size), log)
    space = Space.from_settings(settings.space, data.n_train)
    meter = StepMeter(role_settings, data.bucket, data.stats, probe, limit, settings.timing)
    described = {**describe_jax_device(device), "memory_limit_mb": round(limit, 1),
                 "memory_limit_source": limit_source}
    log(f"plan {dataset}: {role} {role_settings.model.kind} on {described['platform']} "
        f"({described['device']}, {described['dtype']}), memory limit {limit:.0f} MB "
        f"({limit_source}), {len(space)} candidates, modes {', '.join(modes)}")
    run.set_tags({"role": role, "platform": described["platform"],
                  "device": described["device"]})
    param_cap = (None if settings.max_params_per_label is None
                 else settings.max_params_per_label * data.n_labels)
    measured: dict[Candidate, Measurement] = {}
    paths = plan_outputs(results, dataset, modes)
    record: dict[str, Any] = {
        "dataset": dataset, "role": role, "model_kind": role_settings.model.kind,
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "device": described,
        # the JAX force-field loop trains in JAX's default float type: no precision option
        "precision": described["dtype"],
        "data": {"source": data.source, "n_train": data.n_train, "n_labels": data.n_labels,
                 "frames_per_bucket": data.frames_per_bucket,
                 "timed_atoms": data.bucket.n_atoms},
        "space": {"features": space.features, "n_layers": space.n_layers,
                  "batch_size": space.batch_size},
        "modes": {},
    }
    table: list[dict[str, Any]] = []
    measured_in: dict[Candidate, str] = {}
    rules = {mode: ModeRule(mode, settings.mode(mode),
                            settings.mode(mode).epochs or role_settings.train.epochs, data,
                            limit, param_cap) for mode in MODES}
    rules["validation"].between = (rules["prototype"], rules["production"])
    searched: dict[Mode, ModeResult] = {}
    for mode in (m for m in MODES if m in modes):
        rule, mode_settings = rules[mode], settings.mode(mode)
        log(f"plan {mode}: {rule.epochs} epochs of {data.n_train} frames; budgets: search "
            f"{mode_settings.search_s:g} s, cycle {mode_settings.cycle_s:g} s")
        searched[mode] = search_mode(rule, space, meter.measure, measured, seed,
                                     settings.startup_trials, log)
        measured_in.update({c: mode for c in searched[mode].new})
    choose_from_all(searched.values(), space, measured)
    for mode, result in searched.items():
        rows = trial_rows(result, measured)
        table += rows
        path = paths[mode]
        if result.chosen is None:
            path.unlink(missing_ok=True)  # an older plan's overlay no longer holds
        else:
            write_overlay(path, overlay(dataset, role, role_settings, result.chosen,
                                        result.rule.settings.epochs),
                          _comments(dataset, role, described, result, path))
        record["modes"][mode] = mode_record(result, rows,
                                            None if result.chosen is None else path)
        _log_mode(run, mode, result, measured)
        log(summary_line(mode, result))
    record["measurements"] = [{**m.as_dict(), "measured_in": measured_in[c]}
                              for c, m in measured.items()]
    write_json(paths["plan"], record)
    write_table(paths["table"], table)
    for path in paths.values():
        if path.exists():
            run.log_artifact(path)
    unfit = [mode for mode in modes if record["modes"][mode]["chosen"] is None]
    if unfit:
        raise ConfigError(f"plan {dataset}: {', '.join(unfit)}: no measured candidate fits "
                          f"(see {paths['plan']}); fix: raise plan.<mode>.cycle_s or "
                          "plan.memory_limit_mb, or add smaller sizes to plan.space")
    return record


def _say(line: str) -> None:
    print(line, flush=True)  # progress reaches a rule's log as it happens


def _comments(dataset: str, role: str, device: dict[str, Any], result: ModeResult,
              path: Path) -> list[str]:
    chosen, rule = result.chosen, result.rule
    return [
        f"distillery plan: {rule.mode} mode for the {role} of dataset {dataset}, measured on "
        f"{device['platform']} ({device['device']})",
        f"{chosen.candidate.label()}: {chosen.n_params} parameters, {chosen.step_ms:.2f} ms "
        f"per step, cycle {rule.cycle_s(chosen):.1f} s (budget {rule.settings.cycle_s:g} s), "
        f"{chosen.memory_mb:.1f} MB (limit {rule.limit_mb:.0f} MB)",
        f"apply: snakemake --cores all --configfile {path}",
    ]


def _log_mode(run: NullRun, mode: str, result: ModeResult,
              measured: dict[Candidate, Measurement]) -> None:
    """Each new measurement at its step (measurement order over all modes), then the mode's
    choice and search time."""
    first = len(measured) - len(result.new)
    for n, candidate in enumerate(result.new):
        m = measured[candidate]
        run.log_metrics({"measurement.step_ms": m.step_ms, "measurement.memory_mb": m.memory_mb,
                         "measurement.n_params": m.n_params,
                         "measurement.oom": m.status == "oom"}, step=first + n)
    chosen = result.chosen
    if chosen is not None:
        run.log_metrics({f"{mode}.chosen.{k}": v for k, v in {
            "features": chosen.candidate.features, "n_layers": chosen.candidate.n_layers,
            "batch_size": chosen.candidate.batch_size, "n_params": chosen.n_params,
            "step_ms": chosen.step_ms, "memory_mb": chosen.memory_mb,
            "cycle_s": result.rule.cycle_s(chosen)}.items()})
    run.log_metrics({f"{mode}.search_s": result.seconds, f"{mode}.measured": len(result.new)})
