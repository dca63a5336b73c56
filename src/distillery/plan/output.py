"""What a plan writes under `<results>/<dataset>/plan/`: one config overlay per mode, `plan.json`
(every measurement, every mode's trials and choice, the device) and `step_times.csv` (the
table the report shows). Every file is written atomically."""

from __future__ import annotations

import csv
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from distillery.forcefield.settings import RoleSettings
from distillery.io import atomic_write
from distillery.plan.measure import Measurement
from distillery.plan.search import ModeResult
from distillery.train.plan_settings import Mode

TABLE_COLUMNS = ("mode", "features", "n_layers", "batch_size", "n_params", "step_ms",
                 "memory_mb", "cycle_s", "status", "new", "chosen")


def plan_dir(results: str | Path, dataset: str) -> Path:
    return Path(results) / dataset / "plan"


def overlay(dataset: str, role: str, settings: RoleSettings, chosen: Measurement,
            epochs: int | None) -> dict[str, Any]:
    """A partial config that sets the role's model and batch size (and epochs, when the mode
    sets them) for `dataset`; merged over the config like any `--configfile`."""
    model = type(settings.model).model_validate({
        **settings.model.as_dict(), "features": chosen.candidate.features,
        "n_layers": chosen.candidate.n_layers})
    train: dict[str, Any] = {"batch_size": chosen.candidate.batch_size}
    if epochs is not None:
        train["epochs"] = epochs
    return {"datasets": {dataset: {"forcefield": {role: {"model": model.as_dict(),
                                                          "train": train}}}}}


def write_overlay(path: Path, content: Mapping[str, Any], comments: list[str]) -> None:
    with atomic_write(path, "w") as handle:
        handle.write("".join(f"# {line}\n" for line in comments))
        yaml.safe_dump(dict(content), handle, sort_keys=False)


def trial_rows(result: ModeResult, measured: Mapping[Any, Measurement]) -> list[dict[str, Any]]:
    """Every candidate measured so far as this mode judges it, in measurement order."""
    rule, rows = result.rule, []
    for candidate, m in measured.items():
        cycle = rule.cycle_s(m)
        rows.append({"mode": rule.mode, **m.as_dict(),
                     "cycle_s": None if cycle is None else round(cycle, 3),
                     "status": rule.verdict(m), "new": candidate in result.new,
                     "chosen": result.chosen is not None and candidate == result.chosen.candidate})
    return rows


def write_table(path: Path, rows: list[dict[str, Any]]) -> None:
    with atomic_write(path, "w") as handle:
        writer = csv.DictWriter(handle, fieldnames=TABLE_COLUMNS, extrasaction="ignore")
        writer.writeheader()
        for row in rows:
            writer.writerow({k: _short(row.get(k)) for k in TABLE_COLUMNS})


def _short(value: Any) -> Any:
    return round(value, 3) if isinstance(value, float) else value


def mode_record(result: ModeResult, rows: list[dict[str, Any]], overlay_path: Path | None
                ) -> dict[str, Any]:
    rule, chosen = result.rule, result.chosen
    return {
        "budget": rule.settings.as_dict(), "epochs": rule.epochs,
        "memory_limit_mb": round(rule.limit_mb, 1), "max_params": rule.param_cap,
        "search_seconds": round(result.seconds, 2), "stopped": result.stopped,
        "new_measurements": len(result.new), "trials": rows,
        "chosen": None if chosen is None else next(r for r in rows if r["chosen"]),
        "overlay": None if overlay_path is None else str(overlay_path),
    }


def summary_line(mode: Mode, result: ModeResult) -> str:
    chosen, rule = result.chosen, result.rule
    if chosen is None:
        return f"{mode}: nothing fits"
    return (f"{mode}: {chosen.candidate.label()} ({chosen.n_params} params), "
            f"{chosen.step_ms:.2f} ms/step, cycle {rule.cycle_s(chosen):.1f} s of "
            f"{rule.settings.cycle_s:g}, {chosen.memory_mb:.1f} MB; search "
            f"{result.seconds:.1f} s of {rule.settings.search_s:g}")
