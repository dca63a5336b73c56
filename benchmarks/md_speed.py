"""MD steps/s of a teacher-sized and a student-sized model on ethanol, through the JAX engine and
through ASE (VelocityVerlet with the in-process `ModelCalculator` and with the exported program's
`ExportedCalculator`), so the student/teacher ratio is measured the same way on each path.

Prints one JSON object. The architectures are the dataset's teacher and student models
(`--dataset mol`: the default teacher architecture, PaiNN 48x3, and the SchNet 16x2 student);
trained weights from results/<dataset>/forcefield are used when present, random ones otherwise
(speed does not depend on the weights). Every figure is the median (and best) of `--repeats`
timed runs after a compiling warm-up, the paths interleaved so that a loaded machine affects
them alike.

    .venv/bin/python benchmarks/md_speed.py [--dataset mol] [--steps 2000] [--repeats 3]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path
from statistics import median
from typing import Any

import numpy as np
from ase import Atoms, units
from ase.build import molecule
from ase.md.verlet import VelocityVerlet

from distillery.data.frames import FrameSet
from distillery.forcefield.ase_calculator import ExportedCalculator
from distillery.forcefield.export.forcefield import export_trained
from distillery.forcefield.md import MDSettings, maxwell_boltzmann, model_potential, simulate
from distillery.io import read_yaml
from distillery.potentials.calculator import ModelCalculator
from distillery.potentials.inference import throughput
from distillery.potentials.model import ForceField, load_model, save_model
from distillery.settings import load as load_settings
from distillery.train.jax_device import describe_jax_device

ROOT = Path(__file__).resolve().parents[1]


def models(dataset: str, config: str) -> dict[str, tuple[ForceField, Any, str]]:
    resolved = load_settings(read_yaml(config))
    ff = resolved.forcefield(dataset)
    results = ROOT / resolved.config.results / dataset / "forcefield"
    out = {}
    for role, section in (("teacher", ff.teacher), ("student", ff.student)):
        if (results / role / "model.npz").exists():
            model, params = load_model(results / role)
            out[role] = (model, params, "trained")
            continue
        model = ForceField(section.model)
        stats = {"shift": np.zeros(model.max_z + 1, np.float32), "scale": np.float32(1.0)}
        out[role] = (model, {"net": model.init(0), "stats": stats}, "untrained")
    return out


def ase_steps_per_s(start: Atoms, calculator: Any, steps: int, timestep_fs: float) -> float:
    atoms = start.copy()
    atoms.calc = calculator
    dyn = VelocityVerlet(atoms, timestep_fs * units.fs)
    dyn.run(5)  # compile and first neighbour list
    tick = time.perf_counter()
    dyn.run(steps)
    return steps / (time.perf_counter() - tick)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default=str(ROOT / "config" / "config.yaml"))
    parser.add_argument("--dataset", default="mol")
    parser.add_argument("--steps", type=int, default=2000, help="engine steps per timed run")
    parser.add_argument("--ase-steps", type=int, default=300, help="ASE steps per timed run")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--timestep-fs", type=float, default=0.5)
    args = parser.parse_args()
    start = maxwell_boltzmann(molecule("CH3CH2OH"), 500.0, seed=0)
    settings = MDSettings(steps=args.steps, timestep_fs=args.timestep_fs, sample_every=100,
                          chunk_steps=1000)
    frame = FrameSet(numbers=[start.numbers.astype(np.int64)], positions=[start.positions])
    paths: dict[str, dict[str, Any]] = {}
    runners = {}
    with tempfile.TemporaryDirectory() as tmp:
        for role, (model, params, weights) in models(args.dataset, args.config).items():
            save_model(Path(tmp) / role, model, params)
            export_trained(Path(tmp) / role, Path(tmp) / f"{role}_export", n_atoms=None)
            potential = model_potential(model, params, start.numbers)
            simulate(potential, start, settings.model_copy(update={"steps": 10}))  # compile
            jax_calc = ModelCalculator(model, params)
            export_calc = ExportedCalculator(Path(tmp) / f"{role}_export")
            runners[role] = {
                "engine": lambda p=potential: simulate(p, start, settings).steps_per_s,
                "ase_jax_calculator": lambda c=jax_calc: ase_steps_per_s(
                    start, c, args.ase_steps, args.timestep_fs),
                "ase_exported": lambda c=export_calc: ase_steps_per_s(
                    start, c, args.ase_steps, args.timestep_fs),
                # energy + forces of one structure per call, model alone (no MD, no ASE)
                "model_alone_frames": lambda m=model, p=params: throughput(
                    m, p, frame, 1, min_seconds=1.0)["frames_per_s"],
            }
            paths[role] = {"kind": model.kind, "weights": weights,
                           "config": model.config}
        timings: dict[str, dict[str, list[float]]] = {r: {k: [] for k in runners[r]}
                                                      for r in runners}
        for _ in range(args.repeats):
            for path in runners["student"]:
                for role in runners:
                    timings[role][path].append(runners[role][path]())
    for role in runners:
        for path, values in timings[role].items():
            paths[role][path] = {"median_per_s": median(values), "best_per_s": max(values),
                                 "runs_per_s": values}
    ratio = {path: median(timings["student"][path]) / median(timings["teacher"][path])
             for path in runners["student"]}
    print(json.dumps({"system": "ethanol (9 atoms), batch 1", "device": describe_jax_device(),
                      "engine_steps": args.steps, "ase_steps": args.ase_steps,
                      "timestep_fs": args.timestep_fs, "models": paths,
                      "student_over_teacher": ratio}, indent=1))


if __name__ == "__main__":
    main()
