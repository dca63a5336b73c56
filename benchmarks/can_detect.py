"""Live CAN detection speed: frames per second of `python -m distillery.can.detect` on one core.

Generates a DoS capture with the project's generator (src/distillery/data/generate/can_bus.py)
as `candump -L` lines, trains the default students (the graph-free MLP and the small GAT)
briefly on its first 70% so that their exports flag attack windows as a trained model would
(speed does not depend on how well they are trained), fits the payload model on the
attack-free windows of that part, exports the students with their detector metadata and the
fusion of their score with the payload model's (as the workflow does; `--no-payload`: the
student alone), and runs the detector on the whole capture in this process, pinned to one CPU core
with torch, BLAS and OpenMP limited to one thread. Prints one JSON object: per model and format
frames per CPU second of the detector (what one free core reaches, also on a busy machine; the
goal is 20,000: ten times a busy 500 kbit/s bus) and per wall-clock second, and alerts.

    .venv/bin/python benchmarks/can_detect.py [--seconds 120] [--onnx] [--profile] [--no-payload]
"""

from __future__ import annotations

import os

# one thread everywhere, before numpy and torch start their pools
for _name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ[_name] = "1"

import argparse  # noqa: E402
import cProfile  # noqa: E402
import hashlib  # noqa: E402
import io  # noqa: E402
import json  # noqa: E402
import pstats  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402
from torch_geometric.data import Batch  # noqa: E402

from distillery.can.dataset import build_all, load_graphs, save_graphs  # noqa: E402
from distillery.can.detect import Detector, choose_threshold, read_stream  # noqa: E402
from distillery.can.export import (  # noqa: E402
    detector_metadata,
    export_onnx,
    export_torchscript,
    graph_tensors,
    payload_fusion_metadata,
)
from distillery.can.exported import ExportedClassifier, PayloadFusion  # noqa: E402
from distillery.can.models.build import build_classifier  # noqa: E402
from distillery.can.payload import Frames, PayloadModel, window_rows  # noqa: E402
from distillery.can.scores import anomaly_scores  # noqa: E402
from distillery.can.settings import (  # noqa: E402
    ClassifierSettings,
    IDSSettings,
    PayloadSettings,
    WindowSettings,
)
from distillery.data.can import combine_captures, read_can_csv  # noqa: E402
from distillery.data.generate.can_bus import simulate_capture, write_capture  # noqa: E402

GOAL_FRAMES_PER_S = 20_000


def train_exports(folder: Path, seconds: float, onnx: bool, payload: bool
                  ) -> list[tuple[str, str, Path]]:
    """(student, format, path) of every default student, trained a little on the capture,
    with the payload model fitted on its attack-free training windows when `payload`."""
    rows = simulate_capture("dos", duration=seconds, seed=0)
    write_capture(folder / "bus.log", rows, "candump")
    write_capture(folder / "bus.csv", rows)
    table = combine_captures([read_can_csv(folder / "bus.csv", "dos", "bus")], "bus")
    cut = int(len(table) * 0.7)
    splits = {"train": np.arange(cut), "val": np.arange(cut, len(table)),
              "test": np.arange(cut, len(table))}
    spec = WindowSettings()
    collated, windows, meta = build_all(table, splits, spec, "bus")
    graphs = {}
    for split in ("train", "val"):
        save_graphs(folder / f"{split}.npz", collated[split])
        graphs[split] = load_graphs(folder / f"{split}.npz")
    batch = Batch.from_data_list(graphs["train"])
    frames, numbers = Frames.from_table(table), table["frame"].to_numpy()
    normal = windows[(windows["split"] == "train") & (windows["attack_frac"] == 0)]
    model_file = folder / "payload.safetensors"
    PayloadModel.fit(frames, window_rows(normal, numbers, spec.size, "bus"),
                     PayloadSettings()).save(model_file, {})
    payload_model = PayloadModel.load(model_file)[0]
    val_rows = window_rows(windows[windows["split"] == "val"], numbers, spec.size, "bus")
    labels = np.array([int(g.y) for g in graphs["val"]])
    exports = []
    for name, arch in ClassifierSettings().students.items():
        torch.manual_seed(0)
        model = build_classifier(arch, len(meta["features"]), len(meta["classes"]),
                                 meta["feature_mean"], meta["feature_std"])
        optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
        for _ in range(60):
            optimizer.zero_grad()
            torch.nn.functional.cross_entropy(model(batch), batch.y).backward()
            optimizer.step()
        model.eval()
        fprs = IDSSettings().fprs
        metadata = detector_metadata(model, f"{name}_kd", meta, graphs["val"], fprs, 256)
        if payload:
            student = anomaly_scores(model, graphs["val"], 256, torch.device("cpu"))
            metadata["payload"] = payload_fusion_metadata(
                student, payload_model.score(frames, val_rows), labels > 0,
                np.ones(len(labels), bool), fprs, 1.0, model_file.name,
                hashlib.sha256(model_file.read_bytes()).hexdigest())
        example = graph_tensors(graphs["val"][0])
        export_torchscript(model, example, folder / f"{name}.torchscript", metadata)
        exports.append((name, "torchscript", folder / f"{name}.torchscript"))
        if onnx:
            export_onnx(model, example, folder / f"{name}.onnx", metadata)
            exports.append((name, "onnx", folder / f"{name}.onnx"))
    return exports


def detect(path: Path, capture: Path, profile: bool) -> dict[str, float]:
    model = ExportedClassifier(path)
    payload = PayloadFusion.load(model)
    detector = Detector(model, choose_threshold(model, None, None, payload), payload=payload)
    profiler = cProfile.Profile() if profile else None
    if profiler:
        profiler.enable()
    summary = detector.run(read_stream(str(capture)), io.StringIO())
    if profiler:
        profiler.disable()
        text = io.StringIO()
        pstats.Stats(profiler, stream=text).sort_stats("cumulative").print_stats(25)
        print(f"--- {path.name}\n{text.getvalue()}", file=sys.stderr)
    return {"frames_per_cpu_s": round(summary.frames_per_cpu_s),
            "frames_per_s": round(summary.frames_per_s), "seconds": round(summary.seconds, 3),
            "cpu_seconds": round(summary.cpu_seconds, 3),
            "windows": summary.windows, "alerts": summary.alerts,
            "threshold": detector.threshold, "frames": summary.frames,
            "payload_model": payload is not None}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=120.0, help="capture length (bus time)")
    parser.add_argument("--onnx", action="store_true", help="also time the ONNX exports")
    parser.add_argument("--profile", action="store_true", help="cProfile each run to stderr")
    parser.add_argument("--tmp", default=None, help="folder for the files (default: system)")
    parser.add_argument("--no-payload", action="store_true",
                        help="export the students without the payload model")
    args = parser.parse_args()
    core = min(os.sched_getaffinity(0))
    os.sched_setaffinity(0, {core})
    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory(dir=args.tmp) as tmp:
        folder = Path(tmp)
        start = time.perf_counter()
        exports = train_exports(folder, args.seconds, args.onnx, not args.no_payload)
        prepared = time.perf_counter() - start
        results = [{"model": name, "format": fmt, **detect(path, folder / "bus.log", args.profile)}
                   for name, fmt, path in exports]
    print(json.dumps({
        "results": results, "goal_frames_per_s": GOAL_FRAMES_PER_S,
        "meets_goal": all(r["frames_per_cpu_s"] >= GOAL_FRAMES_PER_S for r in results),
        "capture_s": args.seconds, "prepare_seconds": round(prepared, 1), "cpu_core": core,
        "torch_threads": torch.get_num_threads(),
        # other work on the machine slows the detector down: report how busy it was
        "load_average_1min": os.getloadavg()[0], "cpus": os.cpu_count(),
    }, indent=2))


if __name__ == "__main__":
    main()
