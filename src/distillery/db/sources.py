"""Result files -> database rows: metrics records, provenance JSONs, benchmark TSVs, the run
config and the data summaries. Pure readers: nothing here touches the database."""

from __future__ import annotations

import csv
import datetime as dt
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from distillery.errors import InputError
from distillery.io import read_json, read_yaml
from distillery.metrics.record import MetricsFile
from distillery.tracking.flatten import model_metrics, numeric_leaves
from distillery.tracks import TRACKS

Row = dict[str, Any]
SPLITS = ("train", "val", "test")
# Snakemake's benchmark columns (snakemake.benchmark.BenchmarkRecord.get_header)
BENCHMARK_COLUMNS = {"s": "s", "h:m:s": "h_m_s", "max_rss": "max_rss", "max_vms": "max_vms",
                     "max_uss": "max_uss", "max_pss": "max_pss", "io_in": "io_in",
                     "io_out": "io_out", "mean_load": "mean_load", "cpu_time": "cpu_time"}
_TIME_FORMAT = "%Y-%m-%dT%H:%M:%S%z"  # as distillery.workflow writes `finished`


def to_json(obj: Any) -> str:
    """Canonical JSON (sorted keys): the same content always gives the same text."""
    return json.dumps(obj, sort_keys=True, ensure_ascii=False, default=str)


def relative(path: Path, results_dir: Path) -> str:
    """Where a file is, relative to results/ when it lies inside (stable across checkouts)."""
    try:
        return path.resolve().relative_to(results_dir.resolve()).as_posix()
    except ValueError:
        return path.resolve().as_posix()


def dataset_of(rel: str) -> str | None:
    """`md/logs/x.json` -> md; run-wide files (`logs/x.json`, `report/...`) -> None."""
    parts = rel.split("/")
    return parts[0] if len(parts) >= 3 and parts[0] not in ("logs", "benchmarks", "report") \
        else None


def metrics_rows(record: MetricsFile, source: str) -> dict[str, list[Row]]:
    """Rows of one metrics record for `models`, `metric_values`, `goals` and `summaries`."""
    names = [m.model for m in record.models]
    if len(set(names)) != len(names):
        raise InputError(source, "models", f"model names {names}", "each model named once")
    for m in record.models:
        goal_names = [g.name for g in m.goals]
        if len(set(goal_names)) != len(goal_names):
            raise InputError(source, f"models.{m.model}.goals", f"goals {goal_names}",
                             "each goal named once")
    key = {"dataset": record.dataset, "variant": record.variant}
    models, values, goals = [], [], []
    for m in record.models:
        models.append({
            **key, "track": record.track, "split": record.split, "model": m.model,
            "role": m.role, "n_params": m.n_params, "size_bytes": m.size_bytes,
            "device": m.device,
            "throughput": None if m.throughput is None else m.throughput.value,
            "throughput_unit": None if m.throughput is None else m.throughput.unit,
            "primary_metric": m.primary.name, "primary_value": m.primary.value,
            "direction": m.primary.direction, "primary_unit": m.primary.unit,
            "goals_passed": sum(g.passed for g in m.goals), "goals_total": len(m.goals),
            "source": source})
        values += [{**key, "track": record.track, "model": m.model, "role": m.role,
                    "metric": name, "value": value}
                   for name, value in sorted(model_metrics(m).items())]
        goals += [{**key, "model": m.model, "goal": g.name, "value": g.value,
                   "threshold": g.threshold, "comparison": g.comparison,
                   "passed": int(g.passed)} for g in m.goals]
    summaries = [{**key, "track": record.track, "key": name, "value": value}
                 for name, value in sorted(numeric_leaves(record.summary).items())]
    return {"models": models, "metric_values": values, "goals": goals, "summaries": summaries}


def _started(finished: Any, seconds: Any) -> str | None:
    try:
        end = dt.datetime.strptime(str(finished), _TIME_FORMAT)
        return (end - dt.timedelta(seconds=float(seconds))).strftime(_TIME_FORMAT)
    except (TypeError, ValueError):
        return None


def provenance_row(path: Path, results_dir: Path) -> Row:
    """One `runs` row from `<results>/.../logs/<rule>.provenance.json`."""
    try:
        data = read_json(path)
    except ValueError as exc:
        raise InputError(path, "(file)", f"invalid JSON ({exc})", "a provenance record") from None
    if not isinstance(data, Mapping) or not isinstance(data.get("rule"), str):
        raise InputError(path, "rule", "missing", "a provenance record with its rule name",
                         "rerun the rule that writes it")
    rel = relative(path, results_dir)
    wildcards = data.get("wildcards") or {}
    return {
        "path": rel, "rule": data["rule"],
        "dataset": wildcards.get("dataset") or dataset_of(rel),
        "wildcards": to_json(wildcards), "variant": str(wildcards.get("variant", "default")),
        "started": _started(data.get("finished"), data.get("seconds")),
        "finished": data.get("finished"), "seconds": data.get("seconds"),
        "host": data.get("host"), "git_commit": data.get("git_commit"),
        "provenance": to_json(data)}


def _number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None  # Snakemake writes "-" or "NA" when it measured nothing


def benchmark_rows(path: Path, results_dir: Path) -> list[Row]:
    """`benchmarks` rows (one per repeat) of a Snakemake benchmark TSV. The rule and its
    wildcards come from the job's provenance (`../logs/<same name>.provenance.json`), as
    the file name alone does not separate a rule's name from its wildcard values."""
    with open(path, encoding="utf-8", newline="") as handle:
        table = list(csv.DictReader(handle, delimiter="\t"))
    if not table or "s" not in table[0]:
        raise InputError(path, "columns", "no `s` column or no rows",
                         "a Snakemake benchmark TSV (s, h:m:s, max_rss, ...)")
    rel = relative(path, results_dir)
    dataset = dataset_of(rel)
    rule, wildcards = path.stem, {"dataset": dataset} if dataset else {}
    provenance = path.parent.parent / "logs" / f"{path.stem}.provenance.json"
    if provenance.is_file():
        try:
            row = provenance_row(provenance, results_dir)
            rule, wildcards = row["rule"], json.loads(row["wildcards"])
        except InputError:
            pass  # the benchmark still counts; its rule is then named after the file
    rows = []
    for repeat, raw in enumerate(table):
        row: Row = {"path": rel, "repeat": repeat, "rule": rule, "dataset": dataset,
                    "wildcards": to_json(wildcards)}
        for column, name in BENCHMARK_COLUMNS.items():
            text = (raw.get(column) or "").strip()
            row[name] = (text or None) if name == "h_m_s" else _number(text)
        extra = {k: v for k, v in raw.items() if k not in BENCHMARK_COLUMNS and k is not None}
        row["extra"] = to_json(extra) if extra else None
        rows.append(row)
    return rows


def read_run_config(path: Path) -> Mapping[str, Any]:
    config = read_yaml(path)
    if not isinstance(config, Mapping) or not isinstance(config.get("datasets", {}), Mapping):
        raise InputError(path, "datasets", "not a mapping", "the workflow config (run_config.yaml)")
    return config


def config_rows(config: Mapping[str, Any], source: str) -> list[Row]:
    """Per dataset: the run config narrowed to that dataset and its own track's section."""
    rows = []
    for name, cfg in sorted(config.get("datasets", {}).items()):
        track = cfg.get("track") if isinstance(cfg, Mapping) else None
        narrowed = {k: v for k, v in config.items()
                    if k != "datasets" and (k not in TRACKS or k == track)}
        narrowed["datasets"] = {name: cfg}
        rows.append({"dataset": name, "variant": "default", "config": to_json(narrowed),
                     "source": source})
    return rows


def _summary_csv(results_dir: Path) -> dict[str, Row]:
    path = results_dir / "data_summary.csv"
    if not path.is_file():
        return {}
    with open(path, encoding="utf-8", newline="") as handle:
        return {row["dataset"]: row for row in csv.DictReader(handle) if row.get("dataset")}


def _int(value: Any) -> int | None:
    try:
        return int(float(value))
    except (TypeError, ValueError):
        return None


def dataset_names(results_dir: Path, config: Mapping[str, Any] | None) -> list[str]:
    """Datasets with an ingest summary or splits under results/, in the data summary table
    or in the run config."""
    names = {p.parent.parent.name for pattern in ("*/data/summary.json", "*/data/splits.json")
             for p in results_dir.glob(pattern)}
    names |= set(_summary_csv(results_dir))
    names |= set((config or {}).get("datasets", {}))
    return sorted(names)


def dataset_row(results_dir: Path, name: str, config: Mapping[str, Any] | None) -> Row:
    """One `datasets` row from whatever exists: `<name>/data/summary.json` and `splits.json`
    (what `data_summary.csv` is made from; the CSV row fills in when they are gone), the run
    config (track, format), else the split job's provenance (track)."""
    data = results_dir / name / "data"
    summary: Mapping[str, Any] = {}
    if (data / "summary.json").is_file():
        summary = read_json(data / "summary.json")
    csv_row = _summary_csv(results_dir).get(name, {})
    counts = {f"n_{s}": _int(csv_row.get(f"n_{s}")) for s in SPLITS}
    if (data / "splits.json").is_file():
        splits = read_json(data / "splits.json")
        counts = {f"n_{s}": len(splits[s]) if isinstance(splits.get(s), list) else None
                  for s in SPLITS}
    cfg = (config or {}).get("datasets", {}).get(name) or {}
    track = cfg.get("track")
    split_log = results_dir / name / "logs" / "split.provenance.json"
    if track is None and split_log.is_file():
        track = (read_json(split_log).get("params") or {}).get("track")
    n_frames = _int(summary.get("frames")) if summary else _int(csv_row.get("frames"))
    return {"name": name, "track": track, "format": cfg.get("format"), "n_frames": n_frames,
            **counts,
            "summary": to_json(summary) if summary else None}
