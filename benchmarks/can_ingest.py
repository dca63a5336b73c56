"""CAN ingest at Car-Hacking scale: rows per second and peak memory of the workflow's ingest.

Writes five captures in the real Car-Hacking layouts (four attack CSVs and the attack-free
normal_run_data.txt, sized like the public files: about 16.5 million frames in all) to a
temporary folder, ingests them with `distillery.data.ingest.ingest` (what the ingest rule
runs) in a child process, and prints one JSON object: rows, seconds, rows/s, peak RSS of the
child (so the memory used to write the captures is excluded) and the goals (at most 60 s and
3 GB on 2 cores).

    .venv/bin/python benchmarks/can_ingest.py [--frames 16500000] [--tmp /tmp]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

# frames of the public Car-Hacking files, for the split of --frames between the captures
CAPTURES = {"DoS_dataset.csv": 3_665_771, "Fuzzy_dataset.csv": 3_838_860,
            "gear_dataset.csv": 4_443_142, "RPM_dataset.csv": 4_621_702,
            "normal_run_data.txt": 988_987}
ATTACKS = {"DoS_dataset.csv": "dos", "Fuzzy_dataset.csv": "fuzzy", "gear_dataset.csv": "gear",
           "RPM_dataset.csv": "rpm", "normal_run_data.txt": "normal"}
GOALS = {"seconds": 60.0, "peak_rss_gb": 3.0}
HEX = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)
CHUNK = 1_000_000

CHILD = """
import json, resource, sys, time
from distillery.data.ingest import ingest
paths, cfg, output = json.loads(sys.argv[1])
start = time.perf_counter()
summary = ingest(paths, cfg, output)
seconds = time.perf_counter() - start
usage = resource.getrusage(resource.RUSAGE_SELF)
print(json.dumps({"seconds": seconds, "peak_rss_kb": usage.ru_maxrss,
                  "cpu_seconds": usage.ru_utime + usage.ru_stime, "summary": summary}))
"""


def _digits(values: np.ndarray, width: int, base: int) -> np.ndarray:
    """(n, width) ASCII digits of non-negative integers, most significant first."""
    powers = base ** np.arange(width - 1, -1, -1, dtype=np.int64)
    return HEX[(values[:, None] // powers) % base]


def _frames(rng: np.random.Generator, n: int, attack: str, start: float
            ) -> tuple[np.ndarray, ...]:
    """Time-ordered frames: periodic-looking normal IDs, attack frames in bursts."""
    micros = np.int64(start * 1e6) + np.cumsum(rng.integers(100, 900, n))
    ids = rng.choice(np.array([0x316, 0x18F, 0x260, 0x2A0, 0x329, 0x545, 0x43F, 0x4B1,
                               0x153, 0x2C0, 0x130, 0x131, 0x140, 0x350, 0x370, 0x440]), n)
    dlc = rng.choice(np.array([8, 8, 8, 8, 8, 2, 5, 6]), n)
    data = rng.integers(0, 256, (n, 8))
    injected = (np.arange(n) // 20_000) % 5 == 4 if attack != "normal" else np.zeros(n, bool)
    if attack == "dos":
        ids[injected], dlc[injected], data[injected] = 0, 8, 0
    elif attack == "fuzzy":
        ids[injected] = rng.integers(0, 0x800, int(injected.sum()))
    else:
        ids[injected], dlc[injected] = {"gear": 0x43F, "rpm": 0x316}.get(attack, 0x316), 8
    return micros, ids, dlc, data, injected


def _lines(micros: np.ndarray, ids: np.ndarray, dlc: np.ndarray, data: np.ndarray,
           injected: np.ndarray, text_layout: bool) -> bytes:
    """The frames as lines of the Car-Hacking CSV (or attack-free text) layout: a fixed-width
    character matrix, one row per frame, cut after each frame's last data byte."""
    n = len(micros)
    stamp = [_digits(micros // 1_000_000, 10, 10), b".", _digits(micros % 1_000_000, 6, 10)]
    if text_layout:  # 'Timestamp: <ts>        ID: <id>    000    DLC: <n>    <b0> <b1> ...'
        parts = [b"Timestamp: ", *stamp, b"        ID: ", _digits(ids, 4, 16),
                 b"    000    DLC: ", _digits(dlc, 1, 10), b"   "]
        separator = b" "
    else:  # '<ts>,<id>,<dlc>,<b0>,...,<flag>'
        parts = [*stamp, b",", _digits(ids, 4, 16), b",", _digits(dlc, 1, 10)]
        separator = b","
    parts += [p for i in range(8) for p in (separator, _digits(data[:, i], 2, 16))] + [b"   "]
    matrix = np.concatenate([np.broadcast_to(np.frombuffer(p, np.uint8), (n, len(p)))
                             if isinstance(p, bytes) else p for p in parts], axis=1)
    end = matrix.shape[1] - 3 - 3 * (8 - dlc)  # just after the last data byte
    rows = np.arange(n)
    if not text_layout:
        matrix[rows, end], matrix[rows, end + 1] = ord(","), np.where(injected, ord("T"), ord("R"))
        end = end + 2
    matrix[rows, end] = ord("\n")
    return matrix[np.arange(matrix.shape[1]) <= end[:, None]].tobytes()


def write_captures(folder: Path, frames: int, seed: int = 0) -> list[dict[str, str]]:
    """The five captures under `folder`, split like the public files; their raw: entries."""
    total = sum(CAPTURES.values())
    entries = []
    rng = np.random.default_rng(seed)
    for name, size in CAPTURES.items():
        n, written, start = round(frames * size / total), 0, 1478198376.0
        path = folder / name
        with open(path, "wb") as handle:
            while written < n:
                micros, *rest = _frames(rng, min(CHUNK, n - written), ATTACKS[name], start)
                handle.write(_lines(micros, *rest, text_layout=name.endswith(".txt")))
                written += len(micros)
                start = micros[-1] / 1e6
        entries.append({"path": str(path), "attack": ATTACKS[name], "capture": path.stem})
    return entries


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=16_500_000)
    parser.add_argument("--tmp", default=None, help="folder for the captures (default: system)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(dir=args.tmp) as tmp:
        folder = Path(tmp)
        start = time.perf_counter()
        entries = write_captures(folder, args.frames)
        written = time.perf_counter() - start
        cfg = {"track": "classifier", "format": "can_csv", "raw": entries}
        request = json.dumps([[e["path"] for e in entries], cfg, str(folder / "frames.parquet")])
        child = subprocess.run([sys.executable, "-c", CHILD, request], capture_output=True,
                               text=True)
        if child.returncode:
            sys.exit(f"ingest failed:\n{child.stderr[-4000:]}")
        result = json.loads(child.stdout.strip().splitlines()[-1])
        megabytes = sum(Path(e["path"]).stat().st_size for e in entries) / 1e6
    rows = result["summary"]["frames"]
    peak_gb = result["peak_rss_kb"] / 1e6
    print(json.dumps({
        "rows": rows, "seconds": round(result["seconds"], 2),
        "rows_per_s": round(rows / result["seconds"]), "peak_rss_gb": round(peak_gb, 3),
        "cpu_seconds": round(result["cpu_seconds"], 2), "input_mb": round(megabytes),
        "write_captures_seconds": round(written, 2), "cpus": os.cpu_count(),
        # other work on the machine slows the ingest down: report how busy it was
        "load_average_1min": os.getloadavg()[0], "layouts": result["summary"]["layouts"],
        "labels": result["summary"]["labels"], "goals": GOALS,
        "meets_goals": result["seconds"] <= GOALS["seconds"] and peak_gb <= GOALS["peak_rss_gb"],
    }, indent=2))


if __name__ == "__main__":
    main()
