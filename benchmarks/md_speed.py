"""MD steps/s of a teacher-sized and a student-sized model on ethanol, through the JAX engine and
through ASE (VelocityVerlet with the in-process `ModelCalculator` and with the exported program's
`ExportedCalculator`), so the student/teacher ratio is measured the same way on each path.

Prints one JSON object. Every path is timed in wall-clock steps (frames) per second and in steps
per CPU second of this process (all its threads), which another job on a shared machine barely
moves; the student/teacher ratios are given for both. The architectures are the dataset's
teacher and student models (`--dataset mol`: the default teacher architecture, PaiNN 48x3, and
the SchNet 16x2 student);
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

import jax
import jax.numpy as jnp
import numpy as np
from ase import Atoms, units
from ase.build import molecule
from ase.md.verlet import VelocityVerlet

from distillery.forcefield.ase_calculator import ExportedCalculator
from distillery.forcefield.export.forcefield import export_trained
from distillery.forcefield.md import MDSettings, maxwell_boltzmann, model_potential, simulate
from distillery.io import read_yaml
from distillery.potentials.calculator import ModelCalculator
from distillery.potentials.inference import bound_energy_and_forces
from distillery.potentials.model import ForceField, load_model, save_model
from distillery.potentials.neighbours import VerletList
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


Timing = tuple[float, float]  # (per wall second, per CPU second)


def timed(count: int, work: Any) -> Timing:
    """`count` steps (frames) of `work()` per wall second and per CPU second."""
    wall, cpu = time.perf_counter(), time.process_time()
    work()
    return count / (time.perf_counter() - wall), count / (time.process_time() - cpu)


def ase_steps_per_s(start: Atoms, calculator: Any, steps: int, timestep_fs: float) -> Timing:
    atoms = start.copy()
    atoms.calc = calculator
    dyn = VelocityVerlet(atoms, timestep_fs * units.fs)
    dyn.run(5)  # compile and first neighbour list
    return timed(steps, lambda: dyn.run(steps))


def engine_steps_per_s(potential: Any, start: Atoms, settings: MDSettings) -> Timing:
    runs = []
    return timed(settings.steps, lambda: runs.append(simulate(potential, start, settings)))


def model_frames_per_s(model: ForceField, params: Any, start: Atoms, frames: int) -> Timing:
    """Energy + forces of one structure per call, the model alone (no MD, no ASE): the
    compiled function the engine steps with and the calculator calls."""
    fn = bound_energy_and_forces(model, params)
    neighbours = jax.device_put(VerletList(model.cutoff, 0.5).build(start.positions))
    positions, numbers = jnp.asarray(start.positions), jnp.asarray(start.numbers, jnp.int32)
    cell = jnp.zeros((3, 3))
    jax.block_until_ready(fn(positions, numbers, cell, neighbours))

    def work() -> None:
        for _ in range(frames):
            jax.block_until_ready(fn(positions, numbers, cell, neighbours))

    return timed(frames, work)


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
                "engine": lambda p=potential: engine_steps_per_s(p, start, settings),
                "ase_jax_calculator": lambda c=jax_calc: ase_steps_per_s(
                    start, c, args.ase_steps, args.timestep_fs),
                "ase_exported": lambda c=export_calc: ase_steps_per_s(
                    start, c, args.ase_steps, args.timestep_fs),
                # energy + forces of one structure per call, model alone (no MD, no ASE)
                "model_alone_frames": lambda m=model, p=params: model_frames_per_s(
                    m, p, start, args.ase_steps),
            }
            paths[role] = {"kind": model.kind, "weights": weights,
                           "config": model.config}
        timings: dict[str, dict[str, list[Timing]]] = {r: {k: [] for k in runners[r]}
                                                       for r in runners}
        for _ in range(args.repeats):
            for path in runners["student"]:
                for role in runners:
                    timings[role][path].append(runners[role][path]())
    for role in runners:
        for path, values in timings[role].items():
            wall, cpu = [v[0] for v in values], [v[1] for v in values]
            paths[role][path] = {"median_per_s": median(wall), "best_per_s": max(wall),
                                 "runs_per_s": wall, "median_per_cpu_s": median(cpu),
                                 "runs_per_cpu_s": cpu}
    ratio = {path: paths["student"][path]["median_per_s"] / paths["teacher"][path]["median_per_s"]
             for path in runners["student"]}
    ratio_cpu = {path: (paths["student"][path]["median_per_cpu_s"]
                        / paths["teacher"][path]["median_per_cpu_s"])
                 for path in runners["student"]}
    print(json.dumps({"system": "ethanol (9 atoms), batch 1", "device": describe_jax_device(),
                      "engine_steps": args.steps, "ase_steps": args.ase_steps,
                      "timestep_fs": args.timestep_fs, "models": paths,
                      "student_over_teacher": ratio,
                      "student_over_teacher_per_cpu_s": ratio_cpu}, indent=1))


if __name__ == "__main__":
    main()
