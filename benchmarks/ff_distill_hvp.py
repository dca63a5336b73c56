"""Hessian-vector-product targets on vs off: the same student trained twice on a dataset's
distillation set, once with the teacher's HVPs in the loss.

Run from the workflow's working directory; needs its outputs for the dataset
(`results/<dataset>/data/*`,
`results/<dataset>/forcefield/distill_set.parquet`, and the teacher model for `source: train`).
HVPs come from the configured teacher: autodiff for trained models, central differences of
forces for ASE calculators and exports. Prints one JSON object with, per variant, force and
energy MAE on the test split against the reference, force MAE against the teacher, and the
training time.

    .venv/bin/python benchmarks/ff_distill_hvp.py --dataset mol [--frames 400] [--epochs 20]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from contextlib import redirect_stdout
from pathlib import Path

import numpy as np

from distillery.data.frames import read_frames
from distillery.data.splits import read_splits
from distillery.forcefield.evaluation import agreement
from distillery.forcefield.labelling import mixed_labels
from distillery.forcefield.teachers import load_teacher
from distillery.io import read_yaml
from distillery.potentials.inference import evaluate
from distillery.potentials.model import ForceField
from distillery.settings import load as load_settings
from distillery.train.potential_loop import fit

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default=str(ROOT / "config" / "config.yaml"))
    parser.add_argument("--dataset", default="mol")
    parser.add_argument("--frames", type=int, default=400, help="distillation frames used")
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--hvp-weight", type=float, default=1.0)
    args = parser.parse_args()
    resolved = load_settings(read_yaml(args.config))
    ff = resolved.forcefield(args.dataset)
    results = Path(resolved.config.results) / args.dataset  # relative to the working directory
    frames = read_frames(results / "data" / "frames.parquet")
    splits = read_splits(results / "data" / "splits.json")
    train, val, test = (frames.subset(splits[s]) for s in ("train", "val", "test"))
    distill = read_frames(results / "forcefield" / "distill_set.parquet")
    rng = np.random.default_rng(0)
    distill = distill.subset(np.sort(rng.permutation(len(distill))[:args.frames]))
    teacher = load_teacher(ff.teacher, results / "forcefield" / "teacher" / "model.npz")
    start = time.perf_counter()
    directions, targets = teacher.hvp(distill, seed=1)
    hvp_seconds = time.perf_counter() - start
    t_energy, t_forces = teacher.label(test, log=lambda _: None)
    out = {"dataset": args.dataset, "teacher": teacher.name, "distill_frames": len(distill),
           "epochs": args.epochs, "hvp_label_seconds": hvp_seconds}
    for name, weight in (("hvp_off", 0.0), ("hvp_on", args.hvp_weight)):
        labels = mixed_labels(distill, train, ff.distill.teacher_weight)
        if weight > 0:
            labels.extras = {"hvp_dir": directions, "hvp_target": targets}
        cfg = ff.student.train.model_copy(update={"epochs": args.epochs, "hvp_weight": weight,
                                                  "progress_interval": 1e9})
        model = ForceField(ff.student.model)
        # training progress goes to stderr: stdout carries only the JSON result
        with tempfile.TemporaryDirectory() as checkpoints, redirect_stdout(sys.stderr):
            start = time.perf_counter()
            result = fit(model, distill, val, cfg, checkpoints, train_labels=labels,
                         log=lambda _: None)
            seconds = time.perf_counter() - start
        metrics, energy, forces = evaluate(model, result.params, test)
        out[name] = {"force_mae": metrics["force_mae"],
                     "energy_mae_per_atom": metrics["energy_mae_per_atom"],
                     **agreement(energy, forces, t_energy, t_forces, test.n_atoms),
                     "train_seconds": seconds}
    out["force_mae_ratio_on_vs_off"] = out["hvp_on"]["force_mae"] / out["hvp_off"]["force_mae"]
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
