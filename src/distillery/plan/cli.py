"""`python -m distillery.plan --dataset md [--mode prototype|validation|production|all]`."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from distillery.errors import DistilleryError
from distillery.train.plan_settings import MODES, Mode


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m distillery.plan",
        description="Measure training steps on this device and write a config overlay per "
                    "development mode (settings: the config's `plan:` block).")
    parser.add_argument("--dataset", required=True, help="a force-field dataset of the config")
    parser.add_argument("--mode", choices=[*MODES, "all"], default="all")
    parser.add_argument("--config", nargs="+", default=["config/config.yaml"],
                        help="config files, each merged over the ones before it")
    parser.add_argument("--results", default=None,
                        help="results directory (default: the config's `results`)")
    args = parser.parse_args(argv)
    modes: tuple[Mode, ...] = MODES if args.mode == "all" else (args.mode,)
    # JAX, Optuna and MLflow load only once the arguments are known to be good
    from distillery.plan.run import plan_target, run_plan
    from distillery.settings import load_files
    from distillery.tracking import tracked_run
    from distillery.train.jax_device import enable_compilation_cache

    try:
        resolved = load_files(args.config)
        results = Path(args.results or resolved.config.results)
        target = plan_target(resolved, args.dataset)
        enable_compilation_cache(str(results / ".jax_cache"))
        with tracked_run(resolved.config.tracking, results, dataset=args.dataset, rule="plan",
                         wildcards={"dataset": args.dataset}, tags={"modes": ",".join(modes)},
                         params={"plan": resolved.config.plan}) as run:
            run_plan(target, resolved.config.plan, modes, results, run)
    except DistilleryError as exc:
        print(f"ERROR: {exc}", file=sys.stderr)
        return 1
    return 0
