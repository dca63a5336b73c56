"""Teacher vs student inference throughput (energy + forces) for a configured force field.

Prints one JSON object: per model frames/s and atoms/s end to end through its ASE calculator
(one structure per call, neighbour lists included: `ff_evaluate`'s headline, the same for both),
and of the model alone on prepared inputs (`model_only`: jit compile seconds and parameter count
too) at the batch size `ff_evaluate` times it at (the evaluation batch for a trained teacher,
one structure per call for an ASE or export teacher, which has no model-only figure), and both
student/teacher speed-ups.
Uses trained models from results/<dataset>/forcefield when present (speed does not depend on
the weights, so fresh ones are used otherwise) and the dataset's frames, or a few frames of
the generated system (the 108-atom Cu/Au cell, the molecule) when the data is missing.
`--padded-edges N` also times the student with every frame's edges padded to N slots, as
fixed 256-edge padding laid a small molecule out: the same model beside it, in the same run.

    .venv/bin/python benchmarks/ff_speed.py [--config config/config.yaml] [--dataset md]
    .venv/bin/python benchmarks/ff_speed.py --dataset mol --padded-edges 256
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from distillery.data.frames import FrameSet, read_frames
from distillery.forcefield.evaluation import calculator_speed
from distillery.forcefield.settings import RoleSettings
from distillery.forcefield.teachers import load_teacher
from distillery.io import read_yaml
from distillery.metrics.record import Goal
from distillery.plan.data import synthetic_frames
from distillery.potentials.calculator import ModelCalculator
from distillery.potentials.inference import throughput
from distillery.potentials.model import ForceField, fit_stats, load_model
from distillery.settings import load as load_settings
from distillery.train.jax_device import describe_jax_device

ROOT = Path(__file__).resolve().parents[1]


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
    parser.add_argument("--padded-edges", type=int, default=0,
                        help="also time the student with edges padded to this many slots")
    args = parser.parse_args()
    resolved = load_settings(read_yaml(args.config))
    ff = resolved.forcefield(args.dataset)
    results = ROOT / resolved.config.results / args.dataset
    data = results / "data" / "frames.parquet"
    if data.exists():
        frames, source = read_frames(data), args.dataset
    else:
        frames = synthetic_frames(resolved.dataset(args.dataset), args.dataset,
                                  resolved.seed(args.dataset), data)[0]
        source = f"{len(frames)} generated frames of {args.dataset}'s system"
    frames = frames.subset(range(min(args.frames, len(frames))))
    out = {"dataset": source, "n_frames": len(frames),
           "atoms_per_frame": float(frames.n_atoms.mean()), "device": describe_jax_device()}
    if ff.teacher.source == "train":
        batch_size = ff.evaluate.batch_size
        model, params, weights = model_and_params("teacher", ff.teacher, results / "forcefield",
                                                  frames)
        out["teacher"] = {"kind": model.kind, "weights": weights,
                          **calculator_speed(ModelCalculator(model, params), frames,
                                             args.seconds),
                          "model_only": throughput(model, params, frames, batch_size,
                                                   args.seconds)}
    else:
        batch_size = 1  # a calculator takes one structure per call
        teacher = load_teacher(ff.teacher, results / "forcefield" / "teacher" / "model.npz")
        out["teacher"] = {"kind": teacher.name, "weights": ff.teacher.source,
                          **calculator_speed(teacher.calculator(), frames, args.seconds)}
    model, params, weights = model_and_params("student", ff.student, results / "forcefield",
                                              frames)
    out["student"] = {"kind": model.kind, "weights": weights, "cutoff": model.cutoff,
                      **calculator_speed(ModelCalculator(model, params), frames, args.seconds),
                      "model_only": throughput(model, params, frames, batch_size, args.seconds)}
    out["speedup_student_vs_teacher"] = (out["student"]["frames_per_s"]
                                         / out["teacher"]["frames_per_s"])
    if "model_only" in out["teacher"]:
        out["speedup_student_vs_teacher_model_only"] = (
            out["student"]["model_only"]["frames_per_s"]
            / out["teacher"]["model_only"]["frames_per_s"])
    out["goal"] = Goal.check("speedup", out["speedup_student_vs_teacher"],
                             ff.goals.min_speedup, ">=").model_dump()
    if args.padded_edges:
        padded = throughput(model, params, frames, batch_size, args.seconds,
                            min_edges=args.padded_edges)
        out[f"student_edges_padded_to_{args.padded_edges}"] = padded
        out["speedup_of_tight_edge_padding"] = (out["student"]["model_only"]["frames_per_s"]
                                                / padded["frames_per_s"])
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
