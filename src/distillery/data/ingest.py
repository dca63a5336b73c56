"""Raw files named in a dataset config to validated tables in the internal units."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from distillery.data.can import Capture, ingest_can
from distillery.data.extxyz import read_extxyz
from distillery.data.frames import FrameSet, write_frames
from distillery.data.npz import read_npz
from distillery.data.sanity import check_frames
from distillery.errors import InputError

MOLECULAR_FORMATS = ("npz", "extxyz")
# labels a track cannot train without: missing ones stop the ingest, not a later stage
REQUIRED_LABELS: dict[str, tuple[str, ...]] = {"forcefield": ("energy", "forces")}
# electrostatic labels (distillery.data.electrostatics) a track cannot train without
REQUIRED_ELECTROSTATICS: dict[str, tuple[str, ...]] = {"electrostatics": ("esp", "esp_grid")}


def raw_entries(cfg: Mapping[str, Any]) -> list[dict[str, str]]:
    """Normalise `raw` (a path, or a list of paths / {path, attack, capture, ...}) to dicts."""
    raw = cfg.get("raw", [])
    items = [raw] if isinstance(raw, str | dict) else list(raw)
    entries = []
    for item in items:
        entry = {"path": item} if isinstance(item, str) else dict(item)
        entry.setdefault("capture", Path(entry["path"]).stem)
        entry.setdefault("attack", "attack")
        entries.append(entry)
    return entries


def read_molecular(paths: Sequence[str], fmt: str, cfg: Mapping[str, Any]) -> FrameSet:
    """Read and concatenate molecular files of one dataset."""
    units = cfg.get("units", {})
    required = REQUIRED_LABELS.get(cfg.get("track", ""), ())
    reader = read_npz if fmt == "npz" else read_extxyz
    sets = [reader(path, units, cfg.get("fields"), required) for path in paths]
    for fs, path in zip(sets, paths, strict=True):
        for name in REQUIRED_ELECTROSTATICS.get(cfg.get("track", ""), ()):
            if name not in fs.extras:
                raise InputError(path, name, f"no {name} among the labels {sorted(fs.extras)}",
                                 "ESP values (esp) on their points (vdw_surface or esp_grid)",
                                 fix="rename the fields or map them with fields: in the "
                                 "dataset config")
    fs = concat_frames(sets, paths)
    check_frames(fs, ",".join(paths))
    return fs


def concat_frames(sets: Sequence[FrameSet], paths: Sequence[str]) -> FrameSet:
    first = sets[0]
    for fs, path in zip(sets[1:], paths[1:], strict=True):
        for name in ("energy", "forces", "cell", "stress", "virial"):
            if (getattr(fs, name) is None) != (getattr(first, name) is None):
                raise InputError(path, name, "present in some files only",
                                 "the same fields in every file of a dataset")
    if len(sets) == 1:
        return first

    def joined(values: list) -> Any:
        if values[0] is None:
            return None
        if isinstance(values[0], list):
            return [x for v in values for x in v]
        return np.concatenate(values)

    def same_layout(name: str) -> bool:
        # per-atom (object) columns join with each other, per-frame ones need equal shapes
        layouts = {(v.dtype == object, (v[0] if v.dtype == object else v[:1]).shape[1:])
                   for v in (fs.extras[name] for fs in sets) if len(v)}
        return len(layouts) == 1

    shared_extras = [k for k in first.extras if all(k in fs.extras for fs in sets)]
    return FrameSet(
        **{name: joined([getattr(fs, name) for fs in sets])
           for name in ("numbers", "positions", "energy", "forces", "cell", "pbc", "stress",
                        "virial")},
        extras={k: np.concatenate([fs.extras[k] for fs in sets])
                for k in shared_extras if same_layout(k)},
    )


def ingest(paths: Sequence[str], cfg: Mapping[str, Any], output: str | Path) -> dict[str, Any]:
    """Ingest a dataset's raw files into `output` (Parquet); return a summary row."""
    fmt = cfg["format"]
    if fmt in MOLECULAR_FORMATS:
        fs = read_molecular(paths, fmt, cfg)
        write_frames(output, fs)
        summary = {"frames": len(fs), "atoms": int(fs.n_atoms.sum()),
                   "elements": sorted({int(z) for zs in fs.numbers for z in set(zs.tolist())}),
                   "has_energy": fs.energy is not None, "has_forces": fs.forces is not None,
                   "periodic": fs.pbc is not None and bool(fs.pbc.any())}
        if fs.energy is not None:
            summary["energy_mean_eV"] = float(fs.energy.mean())
        return summary
    entries = {e["path"]: e for e in raw_entries(cfg)}
    captures = [Capture.from_entry(entries.get(str(path), {"path": path,
                                                          "attack": Path(path).stem}))
                for path in map(str, paths)]
    # optional keys: their defaults live in ingest_can's signature
    options = {key: cfg[key] for key in ("on_bad_rows", "layout") if key in cfg}
    return ingest_can(captures, output, **options)
