"""JAX pytrees (parameters, optax states) as plain arrays and back, without pickle.

A file cannot say which Python types to build, so a tree is read back by filling the leaves of
a template of the expected structure (a freshly initialised model or optimizer state), checking
their count, shapes and dtypes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import jax
import numpy as np

from distillery.errors import InputError


def _part(key: Any) -> str:
    for attribute in ("key", "idx", "name"):  # DictKey/FlattenedIndexKey, SequenceKey, GetAttrKey
        if hasattr(key, attribute):
            return str(getattr(key, attribute))
    raise TypeError(f"unsupported pytree key {key!r}")


def leaf_names(tree: Any) -> list[str]:
    """'/'-joined key paths of the leaves, in `jax.tree.leaves` order."""
    return ["/".join(_part(k) for k in path)
            for path, _ in jax.tree_util.tree_flatten_with_path(tree)[0]]


def flatten_tree(tree: Any) -> dict[str, np.ndarray]:
    """Leaves as host numpy arrays keyed by their '/'-joined key paths."""
    names = leaf_names(tree)
    if len(set(names)) != len(names):
        raise ValueError("pytree keys containing '/' make two leaves share a name")
    return dict(zip(names, (np.asarray(x) for x in jax.device_get(jax.tree.leaves(tree))),
                    strict=True))


def fill_template(template: Any, leaves: Sequence[Any], source: str | Path, field: str,
                  fix: str, exact_dtypes: bool = True) -> Any:
    """`template`'s structure holding `leaves` (in its leaf order); count, shapes and dtypes
    (with `exact_dtypes`; else only their kind, float or integer) must match the template's."""
    expected, treedef = jax.tree.flatten(template)
    names = leaf_names(template)
    if len(leaves) != len(expected):
        raise InputError(source, field, f"{len(leaves)} arrays",
                         f"the {len(expected)} arrays of the model it belongs to", fix=fix)
    for name, leaf, want in zip(names, leaves, expected, strict=True):
        found, dtype = np.shape(leaf), np.asarray(leaf).dtype
        same = dtype == want.dtype if exact_dtypes else dtype.kind == np.dtype(want.dtype).kind
        if found != tuple(want.shape) or not same:
            raise InputError(source, f"{field}/{name}", f"shape {found} {dtype}",
                             f"shape {tuple(want.shape)} {np.dtype(want.dtype)}", fix=fix)
    return jax.tree.unflatten(treedef, list(leaves))


def unflatten_named(template: Any, arrays: Mapping[str, np.ndarray], source: str | Path,
                    fix: str, exact_dtypes: bool = True) -> Any:
    """`template`'s structure from arrays keyed as by `flatten_tree`; names must match."""
    names = leaf_names(template)
    missing, extra = sorted(set(names) - set(arrays)), sorted(set(arrays) - set(names))
    if missing or extra:
        found = f"missing {missing[:3]}" if missing else f"unexpected {extra[:3]}"
        raise InputError(source, "arrays", f"{len(arrays)} arrays, {found}",
                         f"the {len(names)} arrays of the model described beside it", fix=fix)
    return fill_template(template, [arrays[n] for n in names], source, "arrays", fix,
                         exact_dtypes)
