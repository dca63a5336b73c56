"""What MLflow tracking adds to one workflow job: importing mlflow, opening the local SQLite
store and a run, logging `--epochs` per-epoch rows and `--artifacts` files, closing the run.

Runs each repeat in a fresh child process (a job is a fresh process) against one store under
a temporary results folder, and prints one JSON object: wall and CPU seconds per repeat (CPU
is what the job pays on a busy machine; wall time grows with the load).

    .venv/bin/python benchmarks/tracking_overhead.py [--repeats 3] [--epochs 50] [--artifacts 5]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time

CHILD = """
import sys
from pathlib import Path
from distillery.tracking import tracked_run
results, epochs, artifacts = Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
artifact = results / "artifact.txt"
artifact.write_text("x" * 1000)
params = {"train": {"lr": 1e-3}}
with tracked_run({}, results, dataset="bench", rule="ff_train", params=params) as run:
    for epoch in range(1, epochs + 1):
        run.log_epoch(epoch, {"train_loss": 1.0 / epoch, "val_loss": 2.0 / epoch})
    for _ in range(artifacts):
        run.log_artifact(artifact)
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=50)
    parser.add_argument("--artifacts", type=int, default=5)
    args = parser.parse_args()
    runs = []
    with tempfile.TemporaryDirectory() as results:
        for _ in range(args.repeats):
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            start = time.perf_counter()
            subprocess.run([sys.executable, "-c", CHILD, results, str(args.epochs),
                            str(args.artifacts)], check=True, capture_output=True)
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
            runs.append({"wall_s": round(time.perf_counter() - start, 2),
                         "cpu_s": round(cpu, 2)})
        start = time.perf_counter()
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        subprocess.run([sys.executable, "-c", "import distillery.tracking"], check=True)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        bare = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    print(json.dumps({"repeats": runs, "untracked_process_cpu_s": round(bare, 2),
                      "load_average_1min": round(os.getloadavg()[0], 1),
                      "epochs": args.epochs, "artifacts": args.artifacts}))


if __name__ == "__main__":
    main()
