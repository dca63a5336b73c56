"""Teacher vs students on the CAN test windows: macro F1 and latency per window.

Prints the metrics record (distillery.metrics.record) of a fresh measurement: per model macro
F1, parameter count, latency at batch 1 and batched, speed-up over the teacher, and the goals
(teacher macro F1, KD-student F1 gap, speed-up) from the config. Needs the trained models:
run `make run` (or the workflow up to results/<dataset>/classifier/metrics.json) first.

    .venv/bin/python benchmarks/can_speed.py [--config config/config.yaml] [--dataset can]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch

from distillery.can.dataset import load_graphs
from distillery.can.evaluate import evaluate_model
from distillery.can.models.build import load_classifier
from distillery.can.record import classifier_metrics
from distillery.io import read_json, read_yaml
from distillery.settings import load as load_settings
from distillery.train.torch_device import describe_torch_device, torch_device

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default=str(ROOT / "config" / "config.yaml"))
    parser.add_argument("--dataset", default="can")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    resolved = load_settings(read_yaml(args.config))
    cfg = resolved.classifier(args.dataset)
    folder = Path(resolved.config.results) / args.dataset / "classifier"
    names = ["teacher", *(f"{s}_kd" for s in cfg.students), *(f"{s}_scratch" for s in cfg.scratch)]
    missing = [n for n in names if not (folder / "models" / f"{n}.safetensors").exists()]
    if missing:
        sys.exit(f"missing trained models {missing} in {folder / 'models'}: run `make run` first")
    meta = read_json(folder / "graphs" / "meta.json")
    test = load_graphs(folder / "graphs" / "test.npz")
    device = torch_device(cfg.device)
    models = {}
    for name in names:
        model, _ = load_classifier(folder / "models" / f"{name}.safetensors")
        models[name] = evaluate_model(model, test, meta["classes"], device,
                                      **cfg.evaluate.as_dict())
    record = classifier_metrics(args.dataset, models, cfg.goals, cfg.primary_student,
                                describe_torch_device(device, amp=False), meta["classes"],
                                n_windows=len(test))
    print(json.dumps(record.model_dump(mode="json", by_alias=True), indent=2))


if __name__ == "__main__":
    main()
