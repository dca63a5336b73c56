"""CAN window graphs and one training epoch at Car-Hacking scale, without all graphs in memory.

Generates a capture of --frames frames (default 16.5 million, the size of the public
Car-Hacking files: about 330 000 windows of 100 frames every 50) a chunk at a time: vehicle a's
attack-free traffic from the project's generator (`normal_blocks`) with one 1-s DoS burst (ID
0x000 every ms) per chunk. Each chunk's windows become graphs in one vectorised pass
(`window_graphs`, as the live detector builds them; windows stay inside a chunk, as
`can_graphs` keeps them inside a run) and are written to disk as a shard; the feature scaler
is summed along. Then one epoch of the GAT teacher (or another model of the classifier
settings) trains on the shards through `ShardedGraphs`, which holds one shard's graphs at a
time. Prints one JSON object: frames, windows, seconds and graphs/s of each phase, peak RSS
after each (`ru_maxrss`, which only grows), shard bytes, and, for a run smaller than
Car-Hacking, the seconds at 16.5 M frames extrapolated in proportion to the windows.

    .venv/bin/python benchmarks/can_scale.py [--frames 16500000] [--model teacher] [--tmp /tmp]
"""

from __future__ import annotations

import argparse
import json
import resource
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch_geometric.loader import DataLoader

from distillery.can.dataset import ShardedGraphs, collated, save_graphs
from distillery.can.features import FEATURE_NAMES
from distillery.can.graph import window_graphs
from distillery.can.models.build import build_classifier, count_parameters
from distillery.can.settings import ClassifierSettings, WindowSettings
from distillery.data.generate.can_bus import normal_blocks

CAR_HACKING_FRAMES = 16_500_000
FRAMES_PER_S = 930.0  # vehicle a's attack-free traffic
DOS_GAP = 0.001  # s between the frames of a DoS burst, as the generator's DoS


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def chunks(frames: int, chunk_frames: int, seed: int):
    """(timestamp, can_id, dlc, data, attack) of consecutive chunks, --frames in all."""
    rng = np.random.default_rng(seed)
    seconds = chunk_frames / FRAMES_PER_S
    left = frames
    for t, can_id, dlc, data in normal_blocks(frames / FRAMES_PER_S * 1.05 + seconds,
                                              seed=seed, block_seconds=seconds):
        start = t[0] + rng.uniform(0.0, max(t[-1] - t[0] - 1.0, 0.0))
        dos = np.arange(start, start + 1.0, DOS_GAP)
        t = np.concatenate([t, dos])
        order = np.argsort(t, kind="stable")
        can_id = np.concatenate([can_id, np.zeros(len(dos), np.int64)])[order]
        dlc = np.concatenate([dlc, np.full(len(dos), 8)])[order]
        data = np.concatenate([data, np.zeros((len(dos), 8), np.int64)])[order]
        attack = np.concatenate([np.zeros(len(order) - len(dos), bool),
                                 np.ones(len(dos), bool)])[order]
        keep = min(left, len(t))
        yield t[order][:keep], can_id[:keep], dlc[:keep], data[:keep], attack[:keep]
        left -= keep
        if left <= 0:
            return


def shard_capture(args: argparse.Namespace, spec: WindowSettings, folder: Path
                  ) -> tuple[list[Path], list[int], np.ndarray, np.ndarray, np.ndarray]:
    """Shards of the capture's window graphs, their sizes, the feature mean and spread, and
    the label counts."""
    paths, sizes = [], []
    n_features = len(FEATURE_NAMES)
    sums, squares, nodes = np.zeros(n_features), np.zeros(n_features), 0
    counts = np.zeros(2, np.int64)
    for k, (t, can_id, dlc, data, attack) in enumerate(
            chunks(args.frames, args.chunk_frames, args.seed)):
        starts = np.arange(0, len(t) - spec.size + 1, spec.stride)
        if not len(starts):
            continue
        rows = starts[:, None] + np.arange(spec.size)
        graphs = window_graphs(can_id, t, dlc, data, rows)
        y = (attack[rows].mean(1) >= spec.label_threshold).astype(np.int64)
        paths.append(folder / f"shard{k:05d}.npz")
        save_graphs(paths[-1], collated(graphs, y))
        sizes.append(len(starts))
        x = graphs.x.astype(np.float64)
        sums, squares, nodes = sums + x.sum(0), squares + (x ** 2).sum(0), nodes + len(x)
        counts += np.bincount(y, minlength=2)
    mean = sums / nodes
    std = np.sqrt(np.maximum(squares / nodes - mean ** 2, 0.0))
    return paths, sizes, mean, np.where(std > 1e-8, std, 1.0), counts


def train_epoch(args: argparse.Namespace, data: ShardedGraphs, mean: np.ndarray,
                std: np.ndarray, counts: np.ndarray) -> tuple[int, int, float]:
    """One epoch of the model on the shards: steps, parameters, mean loss."""
    settings = ClassifierSettings()
    arch = settings.teacher if args.model == "teacher" else settings.students[args.model]
    torch.manual_seed(args.seed)
    model = build_classifier(arch, len(FEATURE_NAMES), 2, mean.tolist(), std.tolist()).train()
    train = settings.train
    optimizer = torch.optim.AdamW(model.parameters(), lr=train.lr,
                                  weight_decay=train.weight_decay)
    weight = torch.tensor(counts.sum() / (2 * np.maximum(counts, 1)), dtype=torch.float32)
    steps, total = 0, 0.0
    for batch in DataLoader(data, batch_size=args.batch_size or train.batch_size):
        loss = F.cross_entropy(model(batch), batch.y, weight=weight)
        optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        steps, total = steps + 1, total + loss.item()
    return steps, count_parameters(model), total / max(steps, 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=CAR_HACKING_FRAMES)
    parser.add_argument("--chunk-frames", type=int, default=500_000,
                        help="frames per chunk, and so per shard (default 500000)")
    parser.add_argument("--model", default="teacher",
                        help="teacher, or a student of the classifier settings (gat_small, mlp)")
    parser.add_argument("--batch-size", type=int, default=None,
                        help="graphs per step (default: classifier.train.batch_size)")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch threads (default 1: on a busy machine more are slower)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--tmp", default=None, help="folder of the shards (default: system tmp)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    spec = WindowSettings()
    with tempfile.TemporaryDirectory(dir=args.tmp) as tmp:
        start = time.perf_counter()
        paths, sizes, mean, std, counts = shard_capture(args, spec, Path(tmp))
        build = time.perf_counter() - start
        rss_build = peak_rss_mb()
        shard_bytes = sum(p.stat().st_size for p in paths)
        data = ShardedGraphs(paths, seed=args.seed, sizes=sizes)
        start = time.perf_counter()
        steps, params, loss = train_epoch(args, data, mean, std, counts)
        epoch = time.perf_counter() - start
    windows = sum(sizes)
    result = {
        "frames": args.frames, "windows": windows, "shards": len(paths),
        "attack_windows": int(counts[1]), "model": args.model, "params": params,
        "threads": args.threads,
        "batch_size": args.batch_size or ClassifierSettings().train.batch_size,
        "build_seconds": build, "build_graphs_per_s": windows / build,
        "peak_rss_mb_after_build": rss_build, "shard_mb": shard_bytes / 2**20,
        "epoch_seconds": epoch, "train_graphs_per_s": windows / epoch, "steps": steps,
        "mean_loss": loss, "peak_rss_mb": peak_rss_mb(),
    }
    if args.frames < CAR_HACKING_FRAMES:
        scale = CAR_HACKING_FRAMES / args.frames
        result["extrapolated_to_car_hacking"] = {
            "frames": CAR_HACKING_FRAMES, "windows": round(windows * scale),
            "build_seconds": build * scale, "epoch_seconds": epoch * scale,
            "shard_mb": shard_bytes * scale / 2**20}
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
