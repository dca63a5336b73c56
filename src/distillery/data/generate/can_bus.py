"""Synthetic CAN-bus captures in the public Car-Hacking CSV layout.

Normal traffic: periodic IDs with jittered periods and payloads built from constants, rolling
counters and slowly varying signals. Attacks happen in bursts and their frames are flagged T:
DoS floods ID 0x000 with zero payloads, fuzzy sends random IDs and payloads, spoofing sends a
legitimate ID (gear, 0x43F) with a fixed forged payload at a high rate. Two attacks target the
fastest ECU and leave the ID-to-ID timing graph normal, for tests of attacks kept out of
training: masquerade silences the ECU and sends its frames at its own period and with its
counter, but with forged payloads (only payload statistics change); masquerade_subtle does
the same with a payload whose every byte lies inside the range that byte takes in the ECU's
genuine frames (a constant byte keeps its value, so only the varying signal is forged, and it
stays inside its normal range); replay sends its frames recorded just before the burst again,
half a period after the genuine ones (genuine payloads, only the rate of one ID changes).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from distillery.io import atomic_write

# new attacks go at the end: a capture's random stream is seeded with its attack's position
ATTACKS = ("dos", "fuzzy", "spoofing", "masquerade", "replay", "masquerade_subtle")
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


def _inside(t: float, bursts: list[tuple[float, float]]) -> bool:
    return any(start <= t < stop for start, stop in bursts)


def _masquerade(rng: np.random.Generator, rows: list[tuple], target: dict,
                bursts: list[tuple[float, float]], in_range: bool = False) -> list[tuple]:
    """The target ECU's frames inside the bursts carry one forged payload; its counter and its
    timing stay genuine. The forged bytes are uniform in 0..255, or with `in_range` uniform
    between the lowest and the highest value of the byte in the ECU's frames outside the
    bursts."""
    if in_range:
        genuine = np.array([data for t, can_id, _, data, _ in rows
                            if can_id == target["id"] and not _inside(t, bursts)])
        forged = rng.integers(genuine.min(0), genuine.max(0) + 1)
    else:
        forged = rng.integers(0, 256, 8)
    masqueraded = []
    for t, can_id, dlc, data, flag in rows:
        if can_id == target["id"] and _inside(t, bursts):
            payload = forged[:dlc].copy()
            if target["counter_byte"] < dlc:
                payload[target["counter_byte"]] = data[target["counter_byte"]]
            masqueraded.append((t, can_id, dlc, payload, "T"))
        else:
            masqueraded.append((t, can_id, dlc, data, flag))
    return masqueraded


def _replay(rows: list[tuple], target: dict, bursts: list[tuple[float, float]]) -> list[tuple]:
    """The target's frames from the interval just before each burst, sent again in the burst
    half a period after the genuine ones."""
    replayed = []
    for start, stop in bursts:
        lag = stop - start
        replayed += [(t + lag + target["period"] / 2, can_id, dlc, data, "T")
                     for t, can_id, dlc, data, _ in rows
                     if can_id == target["id"] and start - lag <= t < stop - lag]
    return replayed


def simulate_capture(
    attack: str, duration: float, n_ids: int = 20, n_bursts: int = 6,
    burst_length: float = 1.0, seed: int = 0, start_time: float = 1478198376.0,
) -> list[tuple]:
    """Rows (timestamp, id, dlc, payload bytes, flag) of one capture of `duration` s, sorted by
    time."""
    if attack not in ATTACKS:
        raise ValueError(f"unknown attack {attack!r}; expected one of {ATTACKS}")
    # the vehicle (normal IDs) is the same in every capture; the attacks differ
    specs = _normal_ids(np.random.default_rng(seed), n_ids)
    rng = np.random.default_rng([seed, ATTACKS.index(attack) + 1])
    starts = np.sort(rng.uniform(1.0, duration - burst_length, n_bursts))
    bursts = [(float(s), float(s + burst_length * rng.uniform(0.5, 1.0))) for s in starts]
    rows = _normal_traffic(rng, specs, duration)
    # the fastest ECU (the longest payload among equals): its frames weigh most in a window
    target = min(specs, key=lambda spec: (spec["period"], -spec["dlc"]))
    if attack in ("masquerade", "masquerade_subtle"):
        rows = _masquerade(rng, rows, target, bursts, in_range=attack == "masquerade_subtle")
    elif attack == "replay":
        rows += _replay(rows, target, bursts)
    else:
        rows += _attack_traffic(rng, attack, bursts)
    rows.sort(key=lambda row: row[0])
    return [(start_time + t, *rest) for t, *rest in rows]


def write_capture(path: str | Path, rows: list[tuple], layout: str = "car_hacking") -> None:
    """Write in the Car-Hacking layout, ts,hex id,dlc,bytes...,flag (no header), or with
    layout "candump" as `candump -L` lines, (ts) vcan0 ID#DATA (no labels: a live bus)."""
    if layout not in ("car_hacking", "candump"):
        raise ValueError(f"layout: found {layout!r}, expected car_hacking or candump")
    with atomic_write(path, "w") as handle:
        for t, can_id, dlc, data, flag in rows:
            if layout == "candump":
                payload = "".join(f"{int(b):02X}" for b in data[:dlc])
                handle.write(f"({t:.6f}) vcan0 {can_id:03X}#{payload}\n")
            else:
                payload = "".join(f"{int(b):02x}," for b in data[:dlc])
                handle.write(f"{t:.6f},{can_id:04x},{dlc},{payload}{flag}\n")
