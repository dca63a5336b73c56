"""Synthetic CAN-bus captures in the public Car-Hacking CSV layout.

Normal traffic: periodic IDs with jittered periods and payloads built from constants, rolling
counters and slowly varying signals. Attacks are injected in bursts and flagged T:
DoS floods ID 0x000 with zero payloads, fuzzy sends random IDs and payloads, spoofing replays
a legitimate ID (gear, 0x43F) with a fixed forged payload at a high rate.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from distillery.io import atomic_write

ATTACKS = ("dos", "fuzzy", "spoofing")
SPOOFED_ID = 0x43F


def _normal_ids(rng: np.random.Generator, n_ids: int) -> list[dict]:
    ids = rng.choice(np.arange(0x080, 0x5FF), n_ids, replace=False)
    specs = []
    for can_id in [*sorted(ids.tolist()), SPOOFED_ID]:
        specs.append({
            "id": int(can_id),
            "period": float(rng.choice([0.01, 0.02, 0.05, 0.1])),
            "dlc": int(rng.choice([8, 8, 8, 6, 4, 2])),
            "const": rng.integers(0, 256, 8),
            "counter_byte": int(rng.integers(0, 8)),
            "signal_byte": int(rng.integers(0, 8)),
            "phase": float(rng.uniform(0, 2 * np.pi)),
        })
    return specs


def _normal_traffic(rng: np.random.Generator, specs: list[dict], duration: float) -> list[tuple]:
    rows = []
    for spec in specs:
        t = rng.uniform(0, spec["period"])
        count = 0
        while t < duration:
            data = spec["const"].copy()
            data[spec["counter_byte"]] = count % 256
            signal = 128 + 100 * np.sin(2 * np.pi * t / 7.0 + spec["phase"])
            data[spec["signal_byte"]] = int(signal + rng.integers(-3, 4)) % 256
            rows.append((t, spec["id"], spec["dlc"], data[: spec["dlc"]], "R"))
            count += 1
            t += spec["period"] * rng.normal(1.0, 0.02)
    return rows


def _attack_traffic(
    rng: np.random.Generator, attack: str, bursts: list[tuple[float, float]]
) -> list[tuple]:
    rows = []
    forged = rng.integers(0, 256, 8)
    for start, stop in bursts:
        gap = {"dos": 0.001, "fuzzy": 0.002, "spoofing": 0.002}[attack]
        for t in np.arange(start, stop, gap):
            if attack == "dos":
                rows.append((t, 0x000, 8, np.zeros(8, dtype=np.int64), "T"))
            elif attack == "fuzzy":
                rows.append((t, int(rng.integers(0, 0x800)), 8, rng.integers(0, 256, 8), "T"))
            else:
                rows.append((t, SPOOFED_ID, 8, forged, "T"))
    return rows


def simulate_capture(
    attack: str, duration: float = 30.0, n_ids: int = 20, n_bursts: int = 6,
    burst_length: float = 1.0, seed: int = 0, start_time: float = 1478198376.0,
) -> list[tuple]:
    """Rows (timestamp, id, dlc, payload bytes, flag) of one capture, sorted by time."""
    if attack not in ATTACKS:
        raise ValueError(f"unknown attack {attack!r}; expected one of {ATTACKS}")
    # the vehicle (normal IDs) is the same in every capture; the attacks differ
    specs = _normal_ids(np.random.default_rng(seed), n_ids)
    rng = np.random.default_rng([seed, ATTACKS.index(attack) + 1])
    starts = np.sort(rng.uniform(1.0, duration - burst_length, n_bursts))
    bursts = [(float(s), float(s + burst_length * rng.uniform(0.5, 1.0))) for s in starts]
    rows = _normal_traffic(rng, specs, duration) + _attack_traffic(rng, attack, bursts)
    rows.sort(key=lambda row: row[0])
    return [(start_time + t, *rest) for t, *rest in rows]


def write_capture(path: str | Path, rows: list[tuple]) -> None:
    """Write in the Car-Hacking layout: ts,hex id,dlc,bytes...,flag (no header)."""
    with atomic_write(path, "w") as handle:
        for t, can_id, dlc, data, flag in rows:
            payload = "".join(f"{int(b):02x}," for b in data[:dlc])
            handle.write(f"{t:.6f},{can_id:04x},{dlc},{payload}{flag}\n")
