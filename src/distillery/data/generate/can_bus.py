"""Synthetic CAN-bus captures in the public Car-Hacking CSV layout.

Two vehicles, each the same in every capture of a seed. Normal traffic: periodic IDs with
jittered periods. Vehicle `a`: 21 ECUs (20 IDs in 0x080-0x5FE, and 0x43F) at periods of 10,
20, 50 or 100 ms, payloads of constants, an 8-bit rolling counter and a one-byte signal, each
at a byte position of its own. Vehicle `b`: 16 ECUs (15 IDs in 0x100-0x7EF, and 0x2C4) at 12.5,
25, 40, 80 or 200 ms, every payload laid out alike: an XOR checksum of the other bytes in byte
0, a 4-bit alive counter in the low nibble of byte 1, a 16-bit big-endian signal in bytes 2-3,
constants after.

Attacks happen in bursts and their frames are flagged T: DoS floods ID 0x000 with zero
payloads, fuzzy sends random IDs and payloads, spoofing sends a legitimate ID (gear: 0x43F in
`a`, 0x2C4 in `b`) with a fixed forged payload at a high rate. Two attacks target the fastest
ECU and leave the ID-to-ID timing graph normal, for tests of attacks kept out of training:
masquerade silences the ECU and sends its frames at its own period and with its counter (and,
in `b`, a valid checksum), but with forged payloads (only payload statistics change);
masquerade_subtle does the same with a payload whose every byte lies inside the range that
byte takes in the ECU's genuine frames (a constant byte keeps its value, so only the varying
signal is forged, and it stays inside its normal range); replay sends its frames recorded just
before the burst again, half a period after the genuine ones (genuine payloads, only the rate
of one ID changes).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from distillery.io import atomic_write

# new attacks go at the end: a capture's random stream is seeded with its attack's position
ATTACKS = ("dos", "fuzzy", "spoofing", "masquerade", "replay", "masquerade_subtle")
# the random streams of the long attack-free capture: far beyond every attack's position
NORMAL_STREAM = 1000
# frames drawn at a time per ECU in the long capture (its frames do not depend on the blocks)
ECU_CHUNK = 4096
START_TIME = 1478198376.0  # first timestamp of every generated capture (Car-Hacking's epoch)
LONG_NORMAL_START = START_TIME + 86400.0  # the long attack-free capture: a day later


def _ecus_a(rng: np.random.Generator, n_ids: int) -> list[dict]:
    ids = rng.choice(np.arange(0x080, 0x5FF), n_ids, replace=False)
    specs = []
    for can_id in [*sorted(ids.tolist()), VEHICLES["a"].spoofed_id]:
        specs.append({
            "id": int(can_id),
            "period": float(rng.choice([0.01, 0.02, 0.05, 0.1])),
            "dlc": int(rng.choice([8, 8, 8, 6, 4, 2])),
            "const": rng.integers(0, 256, 8),
            "counter_byte": int(rng.integers(0, 8)),
            "signal_byte": int(rng.integers(0, 8)),
            "phase": float(rng.uniform(0, 2 * np.pi)),
            "checksum_byte": None,
        })
    return specs


def _payload_a(rng: np.random.Generator, spec: dict, t: float, count: int) -> np.ndarray:
    data = spec["const"].copy()
    data[spec["counter_byte"]] = count % 256
    signal = 128 + 100 * np.sin(2 * np.pi * t / 7.0 + spec["phase"])
    data[spec["signal_byte"]] = int(signal + rng.integers(-3, 4)) % 256
    return data


def _payloads_a(spec: dict, t: np.ndarray, count: np.ndarray, noise: np.ndarray
                ) -> np.ndarray:
    """`_payload_a` of many frames of one ECU, with the signal noise given."""
    data = np.repeat(spec["const"][None, :], len(t), 0)
    data[:, spec["counter_byte"]] = count % 256
    signal = 128 + 100 * np.sin(2 * np.pi * t / 7.0 + spec["phase"])
    data[:, spec["signal_byte"]] = (np.trunc(signal + noise)).astype(np.int64) % 256
    return data


def _ecus_b(rng: np.random.Generator, n_ids: int) -> list[dict]:
    spoofed = VEHICLES["b"].spoofed_id
    ids = rng.choice(np.setdiff1d(np.arange(0x100, 0x7F0), [spoofed]), n_ids, replace=False)
    return [{
        "id": int(can_id),
        "period": float(rng.choice([0.0125, 0.025, 0.04, 0.08, 0.2])),
        "dlc": int(rng.choice([8, 8, 7, 6, 5])),
        "const": rng.integers(0, 256, 8),
        "checksum_byte": 0,
        "counter_byte": 1,
        "signal_period": float(rng.uniform(5.0, 15.0)),
        "phase": float(rng.uniform(0, 2 * np.pi)),
    } for can_id in [*sorted(ids.tolist()), spoofed]]


def _checksum(data: np.ndarray, spec: dict) -> np.ndarray:
    """`data` with its checksum byte set to the XOR of the ECU's other payload bytes (no
    change for ECUs without one)."""
    if spec["checksum_byte"] is not None:
        others = np.delete(data[: spec["dlc"]], spec["checksum_byte"])
        data[spec["checksum_byte"]] = np.bitwise_xor.reduce(others)
    return data


def _payload_b(rng: np.random.Generator, spec: dict, t: float, count: int) -> np.ndarray:
    data = spec["const"].copy()
    data[1] = (data[1] & 0xF0) | (count % 16)
    signal = 3000 + 2500 * np.sin(2 * np.pi * t / spec["signal_period"] + spec["phase"])
    value = int(signal) + int(rng.integers(-20, 21))
    data[2], data[3] = value >> 8, value & 0xFF
    return _checksum(data, spec)


def _payloads_b(spec: dict, t: np.ndarray, count: np.ndarray, noise: np.ndarray
                ) -> np.ndarray:
    """`_payload_b` of many frames of one ECU, with the signal noise given."""
    data = np.repeat(spec["const"][None, :], len(t), 0)
    data[:, 1] = (data[:, 1] & 0xF0) | (count % 16)
    signal = 3000 + 2500 * np.sin(2 * np.pi * t / spec["signal_period"] + spec["phase"])
    value = np.trunc(signal).astype(np.int64) + noise
    data[:, 2], data[:, 3] = value >> 8, value & 0xFF
    others = np.delete(data[:, : spec["dlc"]], spec["checksum_byte"], axis=1)
    data[:, spec["checksum_byte"]] = np.bitwise_xor.reduce(others, axis=1)
    return data


@dataclass(frozen=True)
class Vehicle:
    """A generated vehicle: its ECUs (IDs, periods, payload layouts) drawn from the seed, the
    payload of an ECU's frame at time t with its frame count, the number of ECUs besides the
    spoofing target, that target (gear), the payloads of many frames of an ECU with their
    signal noise given (`payload` draws it), and the noise's integer range [low, high)."""

    ecus: Callable[[np.random.Generator, int], list[dict]]
    payload: Callable[[np.random.Generator, dict, float, int], np.ndarray]
    n_ids: int
    spoofed_id: int
    payloads: Callable[[dict, np.ndarray, np.ndarray, np.ndarray], np.ndarray]
    noise: tuple[int, int]


VEHICLES = {"a": Vehicle(_ecus_a, _payload_a, 20, 0x43F, _payloads_a, (-3, 4)),
            "b": Vehicle(_ecus_b, _payload_b, 15, 0x2C4, _payloads_b, (-20, 21))}


def _normal_traffic(rng: np.random.Generator, specs: list[dict], duration: float,
                    payload: Callable[[np.random.Generator, dict, float, int], np.ndarray]
                    ) -> list[tuple]:
    rows = []
    for spec in specs:
        t = rng.uniform(0, spec["period"])
        count = 0
        while t < duration:
            data = payload(rng, spec, t, count)
            rows.append((t, spec["id"], spec["dlc"], data[: spec["dlc"]], "R"))
            count += 1
            t += spec["period"] * rng.normal(1.0, 0.02)
    return rows


def _attack_traffic(
    rng: np.random.Generator, attack: str, bursts: list[tuple[float, float]], spoofed_id: int
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
                rows.append((t, spoofed_id, 8, forged, "T"))
    return rows


def _inside(t: float, bursts: list[tuple[float, float]]) -> bool:
    return any(start <= t < stop for start, stop in bursts)


def _masquerade(rng: np.random.Generator, rows: list[tuple], target: dict,
                bursts: list[tuple[float, float]], in_range: bool = False) -> list[tuple]:
    """The target ECU's frames inside the bursts carry one forged payload; its counter, its
    timing and (when it has one) a valid checksum stay genuine. The forged bytes are uniform in
    0..255, or with `in_range` uniform between the lowest and the highest value of the byte in
    the ECU's frames outside the bursts."""
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
            masqueraded.append((t, can_id, dlc, _checksum(payload, target), "T"))
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


def _rng(seed: int, vehicle: str, stream: int) -> np.random.Generator:
    """Stream 0 draws a vehicle's ECUs, stream k the capture of attack k - 1; vehicle `a`
    keeps the streams it had before there was a second vehicle."""
    if vehicle == "a":
        return np.random.default_rng(seed if stream == 0 else [seed, stream])
    return np.random.default_rng([seed, stream, list(VEHICLES).index(vehicle)])


def simulate_capture(
    attack: str, duration: float, n_ids: int | None = None, n_bursts: int = 6,
    burst_length: float = 1.0, seed: int = 0, start_time: float = START_TIME,
    vehicle: str = "a",
) -> list[tuple]:
    """Rows (timestamp, id, dlc, payload bytes, flag) of one capture of `duration` s on
    `vehicle` (`n_ids` ECUs besides the spoofing target; None: the vehicle's number), sorted by
    time."""
    if attack not in ATTACKS:
        raise ValueError(f"unknown attack {attack!r}; expected one of {ATTACKS}")
    if vehicle not in VEHICLES:
        raise ValueError(f"unknown vehicle {vehicle!r}; expected one of {list(VEHICLES)}")
    car = VEHICLES[vehicle]
    # the vehicle (normal IDs) is the same in every capture; the attacks differ
    specs = car.ecus(_rng(seed, vehicle, 0), car.n_ids if n_ids is None else n_ids)
    rng = _rng(seed, vehicle, ATTACKS.index(attack) + 1)
    starts = np.sort(rng.uniform(1.0, duration - burst_length, n_bursts))
    bursts = [(float(s), float(s + burst_length * rng.uniform(0.5, 1.0))) for s in starts]
    rows = _normal_traffic(rng, specs, duration, car.payload)
    # the fastest ECU (the longest payload among equals): its frames weigh most in a window
    target = min(specs, key=lambda spec: (spec["period"], -spec["dlc"]))
    if attack in ("masquerade", "masquerade_subtle"):
        rows = _masquerade(rng, rows, target, bursts, in_range=attack == "masquerade_subtle")
    elif attack == "replay":
        rows += _replay(rows, target, bursts)
    else:
        rows += _attack_traffic(rng, attack, bursts, car.spoofed_id)
    rows.sort(key=lambda row: row[0])
    return [(start_time + t, *rest) for t, *rest in rows]


class _EcuTraffic:
    """The frames of one ECU in attack-free traffic: frame j's period jitter and signal noise
    are drawn `ECU_CHUNK` frames at a time from the ECU's own stream, so a frame is the same
    whatever blocks the capture is cut into."""

    def __init__(self, spec: dict, car: Vehicle, rng: np.random.Generator) -> None:
        self.spec, self.car, self.rng = spec, car, rng
        self.next = rng.uniform(0, spec["period"])  # time of the first frame not yet drawn
        self.t, self.noise = np.empty(0), np.empty(0, np.int64)
        self.count = 0  # frame count of the first buffered frame

    def until(self, stop: float) -> tuple[np.ndarray, np.ndarray]:
        """Times and payloads (n, 8) of the frames before `stop` not yet taken."""
        while not len(self.t) or self.t[-1] < stop:
            gaps = self.spec["period"] * self.rng.normal(1.0, 0.02, ECU_CHUNK)
            noise = self.rng.integers(*self.car.noise, ECU_CHUNK)
            times = self.next + np.concatenate([[0.0], np.cumsum(gaps[:-1])])
            self.next = times[-1] + gaps[-1]
            self.t, self.noise = np.concatenate([self.t, times]), np.concatenate(
                [self.noise, noise])
        k = int(np.searchsorted(self.t, stop))
        t, data = self.t[:k], self.car.payloads(self.spec, self.t[:k],
                                                self.count + np.arange(k), self.noise[:k])
        self.t, self.noise, self.count = self.t[k:], self.noise[k:], self.count + k
        data[:, self.spec["dlc"]:] = 0
        return t, data


def normal_blocks(
    duration: float, seed: int = 0, vehicle: str = "a", start_time: float = LONG_NORMAL_START,
    block_seconds: float = 60.0, n_ids: int | None = None,
) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]]:
    """Attack-free traffic of `vehicle`, `duration` s long: the ECUs of its attack captures of
    `seed` (same IDs, periods, payload layouts, counters and signals), their jitter and noise
    from a random stream of its own. Yields blocks of `block_seconds` as (timestamp (n,),
    can_id (n,), dlc (n,), data (n, 8), bytes beyond the DLC 0), each sorted by time; the
    frames do not depend on `block_seconds`."""
    if vehicle not in VEHICLES:
        raise ValueError(f"unknown vehicle {vehicle!r}; expected one of {list(VEHICLES)}")
    car = VEHICLES[vehicle]
    specs = car.ecus(_rng(seed, vehicle, 0), car.n_ids if n_ids is None else n_ids)
    index = list(VEHICLES).index(vehicle)
    ecus = [_EcuTraffic(spec, car, np.random.default_rng([seed, NORMAL_STREAM, index, e]))
            for e, spec in enumerate(specs)]
    for start in np.arange(0.0, duration, block_seconds):
        stop = min(start + block_seconds, duration)
        parts = [ecu.until(stop) for ecu in ecus]
        t = np.concatenate([p[0] for p in parts])
        order = np.argsort(t, kind="stable")
        sizes = [len(p[0]) for p in parts]
        can_id = np.repeat([s["id"] for s in specs], sizes)
        dlc = np.repeat([s["dlc"] for s in specs], sizes)
        data = np.concatenate([p[1] for p in parts])
        yield start_time + t[order], can_id[order], dlc[order], data[order]


_HEX = [f"{b:02x}," for b in range(256)]


def write_blocks(path: str | Path, blocks: Iterable[tuple[np.ndarray, ...]]) -> int:
    """Attack-free frames (`normal_blocks`) in the Car-Hacking layout, flag R, block by block;
    returns the number of frames."""
    frames = 0
    with atomic_write(path, "w") as handle:
        for t, can_id, dlc, data in blocks:
            handle.write("".join(
                f"{ts:.6f},{i:04x},{n},{''.join(_HEX[b] for b in row[:n])}R\n"
                for ts, i, n, row in zip(t.tolist(), can_id.tolist(), dlc.tolist(),
                                         data.tolist(), strict=True)))
            frames += len(t)
    return frames


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
