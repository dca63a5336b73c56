"""Wall time per simulated ps of the coarse-grained Langevin dynamics (`cg_simulate`'s
integrator) of a trained dataset, for several replica counts: what sizes `cg.simulate.starts`
and `steps`. The full model (prior + delta network) and the prior alone, from the dataset's
results (`results/<dataset>/priors/`: run `cg_simulate` or `cg_train_delta` first). Every run
compiles its integrator (seconds, varying from run to run), so the time per ps is taken between
the integrator's progress reports, after the first tenth of the run, and the time to that
first report (compilation and start) is given beside it. Prints one JSON object.

    .venv/bin/python benchmarks/cg_langevin_speed.py [--dataset ala2] [--replicas 8 32 128]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from distillery.cg.delta import combined_energy
from distillery.cg.langevin import langevin
from distillery.cg.serialise import load_priors
from distillery.data.frames import read_frames
from distillery.potentials.model import load_model
from distillery.settings import load_files
from distillery.train.jax_device import describe_jax_device


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="ala2")
    parser.add_argument("--config", default="config/config.yaml")
    parser.add_argument("--replicas", type=int, nargs="+", default=[8, 32, 128])
    parser.add_argument("--steps", type=int, default=5000, help="timed steps per replica count")
    args = parser.parse_args()
    settings = load_files([args.config]).cg(args.dataset).simulate
    timed = settings.model_copy(update={"steps": args.steps})
    root = Path("results") / args.dataset / "priors"
    frames = read_frames(root / "cg_frames.parquet")
    positions, numbers = frames.stacked_positions(), frames.numbers[0]
    prior = load_priors(root / "priors.npz")
    net, params = load_model(root / "delta")
    out: dict[str, object] = {"dataset": args.dataset, "timestep_ps": settings.timestep,
                              "steps": args.steps, "device": describe_jax_device()}
    for mode, model in (("full", (net, params)), ("prior-only", (None, None))):
        energy = combined_energy(prior, *model, numbers)
        for n in args.replicas:
            began = time.perf_counter()
            reports: list[float] = []
            langevin(energy, positions[:n], numbers, settings.temperature, timed, 0,
                     log=lambda _, reports=reports: reports.append(time.perf_counter()))
            out[f"{mode}_{n}_start_s"] = reports[0] - began
            # ten reports, a tenth of the run apart
            out[f"{mode}_{n}_s_per_ps"] = (reports[-1] - reports[0]) / (
                0.9 * args.steps * settings.timestep)
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
