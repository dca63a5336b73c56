"""Priors on disk: readable YAML/JSON for parametric fits, NPZ for spline tables."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from distillery.cg.energy import Priors
from distillery.cg.terms import (
    CONVENTION,
    FourierTerm,
    HarmonicTerm,
    RepulsionTerm,
    SplineTerm,
)
from distillery.cg.topology import from_bonds
from distillery.errors import InputError, reason
from distillery.io import atomic_write, read_json, read_yaml, write_json, write_yaml

_TERMS = ("bond", "angle", "dihedral")
_PARAMETRIC = {"harmonic": HarmonicTerm, "fourier": FourierTerm, "repulsion": RepulsionTerm}


def priors_to_dict(priors: Priors) -> dict[str, Any]:
    """Metadata and parametric terms; spline terms are stored as arrays beside it."""
    out: dict[str, Any] = {
        "kind": priors.kind,
        "convention": CONVENTION,
        "units": {"energy": "eV", "length": "angstrom", "angle": "radian"},
        "kT": float(priors.kt),
        "topology": priors.topology.to_dict(),
    }
    for name in _TERMS:
        term = getattr(priors, name)
        out[name] = {"form": "spline"} if isinstance(term, SplineTerm) else term.to_dict()
    out["repulsion"] = None if priors.repulsion is None else priors.repulsion.to_dict()
    return out


def _term(spec: dict[str, Any], path: Path, name: str) -> Any:
    form = spec.get("form")
    if form not in _PARAMETRIC:
        raise InputError(path, f"{name}.form", form, f"one of {sorted(_PARAMETRIC)}")
    args = {k: v for k, v in spec.items() if k != "form"}
    if form == "fourier":
        args = {"a": tuple(args["a"]), "b": tuple(args["b"])}
    values = np.concatenate([np.ravel(np.asarray(v, dtype=float)) for v in args.values()])
    if not np.isfinite(values).all():
        raise InputError(path, name, f"non-finite parameters {args}", "finite numbers",
                         fix="rerun fit_priors to rewrite the file")
    return _PARAMETRIC[form](**args)


def priors_from_dict(data: dict[str, Any], path: Path,
                     splines: dict[str, SplineTerm] | None = None) -> Priors:
    splines = splines or {}
    for name in _TERMS:
        spec = data.get(name)
        if isinstance(spec, dict) and spec.get("form") == "spline" and name not in splines:
            raise InputError(path, f"{name}.form", "spline",
                             "a parametric term; spline tables are read from the .npz file")
    try:
        top = data["topology"]
        topology = from_bonds(top["n_beads"], top["bonds"], top["exclusion"], str(path))
        terms = {name: splines[name] if data[name]["form"] == "spline"
                 else _term(data[name], path, name) for name in _TERMS}
        repulsion = None if data["repulsion"] is None else _term(data["repulsion"], path,
                                                                 "repulsion")
        return Priors(topology, float(data["kT"]), repulsion=repulsion, **terms)
    except (KeyError, TypeError) as exc:
        raise InputError(path, str(exc), "a missing or malformed entry",
                         "a prior file written by distillery.cg.save_priors") from exc


def save_priors(path: str | Path, priors: Priors) -> None:
    """`.yaml`/`.yml`/`.json` for parametric priors; `.npz` (any kind) for spline priors."""
    path = Path(path)
    meta = priors_to_dict(priors)
    if path.suffix == ".npz":
        arrays = {"meta": np.array(json.dumps(meta))}
        for name in _TERMS:
            term = getattr(priors, name)
            if isinstance(term, SplineTerm):
                arrays.update({f"{name}.{k}": v for k, v in term.to_arrays().items()})
        with atomic_write(path) as handle:
            np.savez(handle, **arrays)
    elif priors.kind == "spline":
        raise InputError(path, "suffix", path.suffix, ".npz for spline priors")
    elif path.suffix == ".json":
        write_json(path, meta)
    elif path.suffix in (".yaml", ".yml"):
        write_yaml(path, meta)
    else:
        raise InputError(path, "suffix", path.suffix, ".yaml, .yml, .json or .npz")


def load_priors(path: str | Path) -> Priors:
    """Priors from a file written by `save_priors`; a damaged file raises InputError."""
    path = Path(path)
    if path.suffix not in (".npz", ".json", ".yaml", ".yml"):
        raise InputError(path, "suffix", path.suffix, ".yaml, .yml, .json or .npz")
    try:
        return _read_priors(path)
    except InputError:
        raise
    # damaged archives and text that is not JSON/YAML fail in many libraries with many types
    except Exception as exc:
        raise InputError(path, "file", f"an unreadable prior file ({reason(exc)})",
                         "a prior file written by distillery.cg.save_priors",
                         fix="rerun fit_priors to rewrite it") from None


def _read_priors(path: Path) -> Priors:
    if path.suffix == ".npz":
        with np.load(path) as data:
            arrays = {k: data[k] for k in data.files}
        meta = json.loads(str(arrays.pop("meta")))
        splines = {}
        for name in _TERMS:
            fields = {k.split(".", 1)[1]: v for k, v in arrays.items()
                      if k.startswith(f"{name}.")}
            if fields:
                splines[name] = SplineTerm.from_arrays(fields)
        return priors_from_dict(meta, path, splines)
    if path.suffix == ".json":
        return priors_from_dict(read_json(path), path)
    return priors_from_dict(read_yaml(path), path)
