"""Per-epoch metrics table (CSV + Parquet, atomic), one-line epoch summaries and progress."""

from __future__ import annotations

import contextlib
import math
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any, TextIO

import pandas as pd

from distillery.io import atomic_path

Row = Mapping[str, Any]
# callbacks that see every row any history records (see `observe`)
_OBSERVERS: list[Callable[[Row], None]] = []


@contextlib.contextmanager
def observe(callback: Callable[[Row], None]) -> Iterator[None]:
    """While active, `callback(row)` sees every row a `MetricsHistory` records, also rows
    restored from a resumed checkpoint: how a job's experiment tracker gets the per-epoch
    metrics of training loops that build their own history."""
    _OBSERVERS.append(callback)
    try:
        yield
    finally:
        _OBSERVERS.remove(callback)


def _notify(rows: list[dict[str, Any]]) -> None:
    for callback in list(_OBSERVERS):
        for row in rows:
            callback(row)


class MetricsHistory:
    """Rows of per-epoch metrics, rewritten in full (atomically) after every epoch."""

    def __init__(self, csv_path: str | Path | None,
                 parquet_path: str | Path | None = None) -> None:
        """`csv_path` None keeps the rows in memory only (ranks other than the writing one)."""
        self.csv_path = None if csv_path is None else Path(csv_path)
        self.parquet_path = None if parquet_path is None else Path(parquet_path)
        self.rows: list[dict[str, Any]] = []

    def append(self, row: Mapping[str, Any]) -> None:
        self.rows.append(dict(row))
        self.write()
        _notify(self.rows[-1:])

    def frame(self) -> pd.DataFrame:
        return pd.DataFrame(self.rows)

    def write(self) -> None:
        if self.csv_path is None:
            return
        table = self.frame()
        with atomic_path(self.csv_path) as tmp:
            table.to_csv(tmp, index=False)
        if self.parquet_path is not None:
            with atomic_path(self.parquet_path) as tmp:
                table.to_parquet(tmp, index=False)

    def state_dict(self) -> list[dict[str, Any]]:
        return [dict(r) for r in self.rows]

    def load_state_dict(self, rows: list[dict[str, Any]]) -> None:
        """Restore the rows of a resumed run (those saved with its checkpoint) and write them:
        a run resumed after its last epoch trains no further and must still leave its table."""
        self.rows = [dict(r) for r in rows]
        self.write()
        _notify(self.rows)


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def difference_pct(train: float, val: float) -> float:
    """How much higher the validation value is than the training one, in % of the latter."""
    return 100.0 * (val - train) / abs(train) if train else math.nan


def epoch_summary(epoch: int, train: Mapping[str, float], val: Mapping[str, float],
                  difference: bool = False, **extra: Any) -> str:
    """`epoch 3 | loss train 0.12 val 0.15 | f_mae train 0.05 val 0.06 | lr 1e-3`;
    `difference` adds the validation value's difference from the training one in %."""
    parts = [f"epoch {epoch}"]
    for key in dict.fromkeys([*train, *val]):
        values = []
        if key in train:
            values.append(f"train {_fmt(train[key])}")
        if key in val:
            values.append(f"val {_fmt(val[key])}")
        if difference and key in train and key in val:
            values.append(f"({difference_pct(train[key], val[key]):+.1f}%)")
        parts.append(f"{key} " + " ".join(values))
    parts += [f"{k} {_fmt(v)}" for k, v in extra.items()]
    return " | ".join(parts)


class Progress:
    """Prints `label step/total (pct) steps/s ETA` at most every `interval` seconds."""

    def __init__(self, total: int, label: str = "train", interval: float = 10.0,
                 stream: TextIO | None = None) -> None:
        self.total = int(total)
        self.label = label
        self.interval = float(interval)
        self.stream = sys.stdout if stream is None else stream
        self.start = time.perf_counter()
        self.last = -math.inf
        self.first_step: int | None = None

    def update(self, step: int, force: bool = False) -> str | None:
        """Report progress at global `step` (counted from 0 for this run's total)."""
        now = time.perf_counter()
        if self.first_step is None:
            self.first_step = step
        if not force and now - self.last < self.interval:
            return None
        self.last = now
        done = step - self.first_step
        elapsed = max(now - self.start, 1e-9)
        rate = done / elapsed
        remaining = (self.total - step) / rate if rate > 0 else math.inf
        eta = "?" if math.isinf(remaining) else time.strftime("%H:%M:%S", time.gmtime(remaining))
        pct = 100.0 * step / max(self.total, 1)
        line = f"{self.label} {step}/{self.total} ({pct:.0f}%) {rate:.2f} steps/s ETA {eta}"
        print(line, file=self.stream, flush=True)
        return line
