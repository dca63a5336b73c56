"""Priors on disk: readable YAML/JSON for parametric fits, NPZ for spline tables."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from distillery.cg.energy import KINDS, Priors
from distillery.cg.mapping import BeadInfo
from distillery.cg.settings import PRIOR_SUFFIXES
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

_PARAMETRIC = {"harmonic": HarmonicTerm, "fourier": FourierTerm, "repulsion": RepulsionTerm}


def priors_to_dict(priors: Priors) -> dict[str, Any]:
    """Metadata and parametric terms per kind and class of bead types ({"bond": {"C-N":
    {form, k, x0}}}); spline terms are stored as arrays beside it."""
    out: dict[str, Any] = {
        "kind": priors.kind,
        "convention": CONVENTION,
        "units": {"energy": "eV", "length": "angstrom", "angle": "radian"},
        "kT": float(priors.kt),
        "topology": priors.topology.to_dict(),
    }
    for kind in KINDS:
        terms = priors.terms.get(kind)
        out[kind] = None if not terms else {
            name: {"form": "spline"} if isinstance(t, SplineTerm) else t.to_dict()
            for name, t in terms.items()}
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
                         fix="rerun cg_fit_priors to rewrite the file")
    return _PARAMETRIC[form](**args)


def priors_from_dict(data: dict[str, Any], path: Path,
                     splines: dict[str, SplineTerm] | None = None) -> Priors:
    """`splines` holds the tables of spline terms by "kind/class"."""
    splines = splines or {}
    try:
        top = data["topology"]
        topology = from_bonds(top["n_beads"], top["bonds"], top["exclusion"], str(path),
                              top.get("types", ()))
        terms: dict[str, dict[str, Any]] = {}
        for kind in KINDS:
            classes = data.get(kind) or {}
            if not isinstance(classes, dict) or not all(
                    isinstance(spec, dict) for spec in classes.values()):
                raise InputError(path, kind, f"{classes!r:.60}",
                                 "a mapping of bead-type classes (e.g. C-CA) to terms",
                                 fix="rerun cg_fit_priors to rewrite the file")
            for name, spec in classes.items():
                key = f"{kind}/{name}"
                if spec.get("form") == "spline":
                    if key not in splines:
                        raise InputError(path, f"{key}.form", "spline", "a parametric term; "
                                         "spline tables are read from the .npz file")
                    term = splines[key]
                else:
                    term = _term(spec, path, key)
                terms.setdefault(kind, {})[name] = term
        return Priors(topology, float(data["kT"]), terms)
    except (KeyError, TypeError, AttributeError) as exc:
        raise InputError(path, str(exc), "a missing or malformed entry",
                         "a prior file written by distillery.cg.save_priors") from exc


def save_priors(path: str | Path, priors: Priors) -> None:
    """`.yaml`/`.yml`/`.json` for parametric priors; `.npz` (any kind) for spline priors."""
    path = Path(path)
    meta = priors_to_dict(priors)
    if path.suffix == ".npz":
        arrays = {"meta": np.array(json.dumps(meta))}
        for kind, terms in priors.terms.items():
            for name, term in terms.items():
                if isinstance(term, SplineTerm):
                    arrays.update({f"{kind}/{name}.{k}": v for k, v in term.to_arrays().items()})
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
    if path.suffix not in PRIOR_SUFFIXES:
        raise InputError(path, "suffix", path.suffix, f"one of {list(PRIOR_SUFFIXES)}")
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
        tables: dict[str, dict[str, np.ndarray]] = {}
        for key, value in arrays.items():
            term, field = key.rsplit(".", 1)
            tables.setdefault(term, {})[field] = value
        splines = {term: SplineTerm.from_arrays(fields) for term, fields in tables.items()}
        return priors_from_dict(meta, path, splines)
    if path.suffix == ".json":
        return priors_from_dict(read_json(path), path)
    return priors_from_dict(read_yaml(path), path)


def read_user_priors(path: str | Path, beads: BeadInfo) -> Priors:
    """Priors from a user's file (`cg.priors.file`), checked against the mapped beads: the
    same bead count, the same bead types where the file names them, and a term for every
    class of bead types of each kind the file covers."""
    priors = load_priors(path)
    topology, fix = priors.topology, "write the priors of this dataset's mapping"
    if topology.n_beads != len(beads.types):
        raise InputError(path, "topology.n_beads", topology.n_beads,
                         f"{len(beads.types)}, the mapping's bead count", fix=fix)
    if topology.types and topology.types != beads.types:
        raise InputError(path, "topology.types", list(topology.types),
                         f"the mapping's bead types {list(beads.types)}", fix=fix)
    for kind, terms in priors.terms.items():
        missing = sorted(set(topology.classes(kind)[0]) - set(terms))
        if missing:
            raise InputError(path, kind, f"no term for the classes {missing}",
                             "a term for every class of bead types", fix=fix)
    return priors
