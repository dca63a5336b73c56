"""Snakemake benchmark TSVs of every rule -> one table (rule, wildcards, wall s, RSS, load).

A benchmark file is matched against the benchmark patterns of the workflow's rules (e.g.
`results/{dataset}/benchmarks/ingest.tsv`) to recover the rule and its wildcard values.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from pathlib import Path

import pandas as pd

from distillery.errors import InputError
from distillery.io import atomic_path
from distillery.report.html import html_page

COLUMNS = ["rule", "wildcards", "path", "runs", "wall_s", "max_rss_mb", "max_vms_mb",
           "io_in_mb", "io_out_mb", "mean_load", "cpu_time_s"]
# Snakemake's benchmark columns -> ours
_RENAME = {"s": "wall_s", "max_rss": "max_rss_mb", "max_vms": "max_vms_mb",
           "io_in": "io_in_mb", "io_out": "io_out_mb", "mean_load": "mean_load",
           "cpu_time": "cpu_time_s"}
_WILDCARD = re.compile(r"\{\s*(\w+)\s*(?:,\s*((?:[^{}]|\{[^{}]*\})+))?\}")


def pattern_regex(pattern: str) -> re.Pattern[str]:
    """Snakemake file pattern -> regex with one named group per wildcard."""
    parts, seen, last = [], set(), 0
    for match in _WILDCARD.finditer(pattern):
        parts.append(re.escape(pattern[last:match.start()]))
        name, constraint = match.group(1), match.group(2)
        # a repeated wildcard must take the same value: back-reference it
        parts.append(f"(?P={name})" if name in seen else f"(?P<{name}>{constraint or '.+'})")
        seen.add(name)
        last = match.end()
    parts.append(re.escape(pattern[last:]))
    return re.compile("".join(parts) + "$")


def identify(path: str, patterns: Mapping[str, str]) -> tuple[str, str]:
    """(rule, "name=value,...") of a benchmark file; the most specific pattern wins."""
    best: tuple[int, str, str] | None = None
    for rule, pattern in patterns.items():
        match = pattern_regex(pattern).match(path)
        if match is None:
            continue
        # fewer characters matched by wildcards = a more literal, more specific pattern
        free = sum(len(v) for v in match.groupdict().values())
        wildcards = ",".join(f"{k}={v}" for k, v in match.groupdict().items())
        if best is None or free < best[0]:
            best = (free, rule, wildcards)
    if best is None:
        return Path(path).stem, ""
    return best[1], best[2]


def read_benchmark(path: str | Path) -> dict[str, float]:
    """Mean over the repeats in one benchmark TSV of the columns we report."""
    try:
        frame = pd.read_csv(path, sep="\t", na_values=["-", "NA"])
    except (pd.errors.EmptyDataError, pd.errors.ParserError) as exc:
        raise InputError(path, "<table>", str(exc).splitlines()[0],
                         "a Snakemake benchmark TSV") from exc
    if "s" not in frame.columns or frame.empty:
        raise InputError(path, "columns", list(frame.columns),
                         "a Snakemake benchmark TSV with an `s` column and one row per run")
    row = {"runs": float(len(frame))}
    for source, target in _RENAME.items():
        if source in frame.columns:
            row[target] = float(pd.to_numeric(frame[source], errors="coerce").mean())
    return row


def benchmarks_table(paths: Iterable[str | Path], patterns: Mapping[str, str]) -> pd.DataFrame:
    """One row per benchmark file, slowest first."""
    rows = []
    for path in sorted(str(p) for p in paths):
        rule, wildcards = identify(path, patterns)
        rows.append({"rule": rule, "wildcards": wildcards, "path": path, **read_benchmark(path)})
    table = pd.DataFrame(rows, columns=COLUMNS)
    return table.sort_values("wall_s", ascending=False, kind="stable").reset_index(drop=True)


def find_benchmarks(root: str | Path, exclude_rules: Iterable[str] = ()) -> list[Path]:
    """Every `benchmarks/*.tsv` below `root`, except those of the named rules."""
    excluded = set(exclude_rules)
    return [p for p in sorted(Path(root).glob("**/benchmarks/*.tsv")) if p.stem not in excluded]


def write_benchmarks(table: pd.DataFrame, parquet: str | Path, html: str | Path) -> None:
    with atomic_path(parquet) as tmp:
        table.to_parquet(tmp, index=False)
    with atomic_path(html) as tmp:
        tmp.write_text(html_page("Benchmarks: time and memory per job",
                                 table.drop(columns="path")), encoding="utf-8")
