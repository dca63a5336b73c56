"""What changed between the configurations of two runs, as a flat table of dotted keys.

    python -m distillery.report.config_diff md--lr0_seed0 md--lr1_seed0 \
        --configs config/config.yaml my_sweep.yaml     # two datasets or sweep variants
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

_MISSING = object()


def _flat(obj: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(obj, Mapping):
        flat: dict[str, Any] = {}
        for key, value in obj.items():
            flat.update(_flat(value, f"{prefix}{key}."))
        return flat
    return {prefix.rstrip("."): obj}


def _show(flat: Mapping[str, Any], key: str) -> str:
    return repr(flat[key]) if key in flat else "(absent)"


def config_diff(before: Mapping[str, Any], after: Mapping[str, Any]) -> pd.DataFrame:
    """Rows (key, before, after) for every leaf that differs, added or removed."""
    a, b = _flat(before), _flat(after)
    rows = [
        {"key": key, "before": _show(a, key), "after": _show(b, key)}
        for key in sorted(a.keys() | b.keys())
        if a.get(key, _MISSING) != b.get(key, _MISSING)
    ]
    return pd.DataFrame(rows, columns=["key", "before", "after"])


def main(argv: Sequence[str] | None = None) -> int:
    """Print what differs between the settings two datasets or sweep variants run with."""
    from distillery.settings import load_files  # the settings compose report's: import late

    parser = argparse.ArgumentParser(prog="python -m distillery.report.config_diff")
    parser.add_argument("before", help="a dataset or sweep variant (`<dataset>--<variant>`)")
    parser.add_argument("after")
    parser.add_argument("--configs", nargs="+", default=["config/config.yaml"])
    args = parser.parse_args(argv)
    resolved = load_files(args.configs)
    for name in (args.before, args.after):
        if name not in resolved.all_datasets:
            parser.error(f"{name}: not a dataset or sweep variant of {args.configs}; expected "
                         f"one of {sorted(resolved.all_datasets)}")
    diff = config_diff(resolved.dataset_view(args.before), resolved.dataset_view(args.after))
    print(diff.to_string(index=False) if len(diff) else "no differences")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
