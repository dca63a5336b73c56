"""Teacher vs student inference throughput (energy + forces) for the configured force fields.

Prints one JSON object: per model frames/s, atoms/s, jit compile seconds and parameter count,
and the student/teacher speed-up. Uses trained models from results/<dataset>/forcefield when
present (speed does not depend on the weights, so fresh ones are used otherwise) and the
dataset's test frames, or a generated 108-atom fcc Cu/Au cell when the data is missing.

    .venv/bin/python benchmarks/ff_speed.py [--config config/config.yaml] [--dataset md]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
from ase.build import bulk

from distillery.data.frames import FrameSet, read_frames
from distillery.forcefield.settings import RoleSettings
from distillery.io import read_yaml
from distillery.metrics.record import Goal
from distillery.models.inference import throughput
from distillery.models.model import ForceField, fit_stats, load_model
from distillery.settings import load as load_settings
from distillery.train.device import describe_jax_device

ROOT = Path(__file__).resolve().parents[1]


def synthetic_frames(n_frames: int, seed: int = 0) -> FrameSet:
    """Jittered 3x3x3 conventional fcc Cu cells with a quarter of the atoms Au (108 atoms)."""
    rng = np.random.default_rng(seed)
    atoms = bulk("Cu", "fcc", a=3.7, cubic=True).repeat(3)
    numbers = atoms.numbers.copy()
    numbers[rng.permutation(len(numbers))[: len(numbers) // 4]] = 79
    positions = [atoms.positions + rng.normal(scale=0.05, size=atoms.positions.shape)
                 for _ in range(n_frames)]
    return FrameSet(numbers=[numbers] * n_frames, positions=positions,
                    energy=np.zeros(n_frames), forces=[np.ones_like(p) for p in positions],
                    cell=np.repeat(np.asarray(atoms.cell)[None], n_frames, 0),
                    pbc=np.ones((n_frames, 3), bool))


def model_and_params(role: str, section: RoleSettings, results: Path, frames: FrameSet):
    trained = results / role / "model.npz"
    if trained.exists():
        return (*load_model(trained.parent), "trained")
    model = ForceField(section.model)
    stats = fit_stats(frames, frames.energy, frames.forces, model.max_z)
    return model, {"net": model.init(0), "stats": stats}, "untrained"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default=str(ROOT / "config" / "config.yaml"))
    parser.add_argument("--dataset", default="md")
    parser.add_argument("--frames", type=int, default=32, help="frames timed per pass")
    parser.add_argument("--seconds", type=float, default=5.0, help="minimum timing per model")
    parser.add_argument("--batch-size", type=int, default=16)
    args = parser.parse_args()
    resolved = load_settings(read_yaml(args.config))
    ff = resolved.forcefield(args.dataset)
    results = ROOT / resolved.config.results / args.dataset
    data = results / "data" / "frames.parquet"
    frames = (read_frames(data) if data.exists() else synthetic_frames(args.frames))
    frames = frames.subset(range(min(args.frames, len(frames))))
    out = {"dataset": args.dataset if data.exists() else "synthetic fcc Cu/Au, 108 atoms",
           "n_frames": len(frames), "atoms_per_frame": float(frames.n_atoms.mean()),
           "device": describe_jax_device()}
    for role, section in (("teacher", ff.teacher), ("student", ff.student)):
        model, params, source = model_and_params(role, section, results / "forcefield", frames)
        speed = throughput(model, params, frames, args.batch_size, args.seconds)
        out[role] = {"kind": model.kind, "weights": source, "cutoff": model.cutoff, **speed}
    out["speedup_student_vs_teacher"] = (out["student"]["frames_per_s"]
                                         / out["teacher"]["frames_per_s"])
    out["goal"] = Goal.check("speedup", out["speedup_student_vs_teacher"],
                             ff.goals.min_speedup, ">=").model_dump()
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
