"""Generated CAN captures: determinism, the masquerade (also with in-range forgeries) and replay
attacks, which leave the ID-to-ID timing normal, two vehicles that differ in IDs, periods,
payload layouts and counters, and vehicle a's captures pinned as they were written."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest

from distillery.data.can import read_can_csv
from distillery.data.generate.can_bus import ATTACKS, VEHICLES, simulate_capture, write_capture


def _columns(rows):
    t = np.array([r[0] for r in rows])
    ids = np.array([r[1] for r in rows])
    attack = np.array([r[-1] == "T" for r in rows])
    return t, ids, attack


@pytest.mark.parametrize("attack", ATTACKS)
def test_captures_are_deterministic_from_the_seed(attack):
    first = simulate_capture(attack, duration=3.0, n_bursts=2, seed=4)
    again = simulate_capture(attack, duration=3.0, n_bursts=2, seed=4)
    other = simulate_capture(attack, duration=3.0, n_bursts=2, seed=5)
    assert [(r[0], r[1], r[2], list(r[3]), r[4]) for r in first] == [
        (r[0], r[1], r[2], list(r[3]), r[4]) for r in again]
    assert [r[0] for r in first] != [r[0] for r in other]
    assert sum(r[-1] == "T" for r in first) > 0


def test_every_capture_drives_the_same_vehicle():
    normal_ids = [{r[1] for r in simulate_capture(a, duration=3.0, seed=2) if r[-1] == "R"}
                  for a in ATTACKS]
    assert all(ids == normal_ids[0] for ids in normal_ids)


def _masquerade(attack_name: str) -> tuple[np.ndarray, np.ndarray, int, np.ndarray]:
    """The target ECU's forged and genuine payloads, its counter byte and the forged bytes
    other than the counter, after checking what every masquerade keeps: one silenced ECU,
    its period through the attack (no frame added or dropped), its counter running on and
    one forged value in every other byte."""
    rows = simulate_capture(attack_name, duration=10.0, n_bursts=3, seed=0)
    t, ids, attack = _columns(rows)
    target = np.unique(ids[attack])
    assert target.size == 1  # one silenced ECU
    mine = ids == target[0]
    gaps = np.diff(t[mine])
    period = np.median(gaps)
    assert 0.85 * period < gaps.min() and gaps.max() < 1.15 * period
    payloads = np.array([rows[i][3] for i in np.flatnonzero(mine)])
    forged, genuine = payloads[attack[mine]], payloads[~attack[mine]]
    counter = next(b for b in range(payloads.shape[1])
                   if (np.diff(genuine[:50, b]) % 256 == 1).all())
    assert (np.diff(payloads[:, counter]) % 256 == 1).all()
    others = np.delete(forged, counter, axis=1)
    assert (others == others[0]).all()
    return forged, genuine, counter, others


def test_masquerade_keeps_the_timing_and_forges_the_payload():
    # seed 0: the target ECU has a rolling counter (in some vehicles its signal overwrites it)
    _, genuine, counter, others = _masquerade("masquerade")
    # the other bytes are forged constants that no genuine frame carries
    assert not (np.delete(genuine, counter, axis=1) == others[0]).all(axis=1).any()


def test_subtle_masquerade_forges_every_byte_inside_its_normal_range():
    forged, genuine, counter, others = _masquerade("masquerade_subtle")
    assert ((forged >= genuine.min(0)) & (forged <= genuine.max(0))).all()
    # constant bytes keep their value, so the forgery is in the varying signal alone
    constant = genuine.min(0) == genuine.max(0)
    assert constant.sum() >= 6
    assert (forged[:, constant] == genuine[0, constant]).all()
    assert not (np.delete(genuine, counter, axis=1) == others[0]).all(axis=1).all()


# vehicle a's capture of every attack as written before the attacks after it (the first five
# before masquerade_subtle, all six before vehicle b): a new attack or vehicle must leave the
# others exactly as hard as they were
PINNED = {"dos": "a02127b01b92a347", "fuzzy": "99708cc3f6713465",
          "spoofing": "d8125c510c5bc013", "masquerade": "5c50bd748c5287a0",
          "replay": "78795da278bec048", "masquerade_subtle": "795125d3d36f0606"}


@pytest.mark.parametrize("attack", sorted(PINNED))
def test_adding_an_attack_leaves_the_other_captures_as_they_were(tmp_path, attack):
    write_capture(tmp_path / "c.csv", simulate_capture(attack, duration=3.0, n_bursts=2, seed=3))
    assert hashlib.sha256((tmp_path / "c.csv").read_bytes()).hexdigest()[:16] == PINNED[attack]


def _ecus(rows):
    """Per normal ID: the median gap between its frames and its payloads."""
    t, ids, attack = _columns(rows)
    return {int(i): (np.median(np.diff(t[(ids == i) & ~attack])),
                     [rows[k][3] for k in np.flatnonzero((ids == i) & ~attack)])
            for i in np.unique(ids[~attack])}


def test_two_vehicles_differ_in_ids_periods_payload_layouts_and_counters():
    a = _ecus(simulate_capture("replay", duration=4.0, n_bursts=1, seed=2))
    b = _ecus(simulate_capture("replay", duration=4.0, n_bursts=1, seed=2, vehicle="b"))
    assert (len(a), len(b)) == (21, 16)
    assert len(set(a) & set(b)) <= 2
    nearest = {v: min((0.01, 0.02, 0.05, 0.1, 0.0125, 0.025, 0.04, 0.08, 0.2),
                      key=lambda p, v=v: abs(p - v)) for v, _ in (*a.values(), *b.values())}
    assert {nearest[g] for g, _ in a.values()} <= {0.01, 0.02, 0.05, 0.1}
    assert {nearest[g] for g, _ in b.values()} <= {0.0125, 0.025, 0.04, 0.08, 0.2}
    assert len({nearest[g] for g, _ in b.values()}) >= 3

    def counter_steps(payloads, byte, mask):
        values = np.array([p[byte] for p in payloads]) & mask
        return np.diff(values) % (mask + 1)

    for _, payloads in b.values():
        # b: byte 0 is the XOR of the others, so a valid frame XORs to 0; a 4-bit counter in
        # the low nibble of byte 1 under a constant high nibble
        assert all(np.bitwise_xor.reduce(p) == 0 for p in payloads)
        assert (counter_steps(payloads, 1, 0x0F) == 1).all()
        assert len({p[1] >> 4 for p in payloads}) == 1
    # a: an 8-bit counter at a position of each ECU's own (some ECUs' signal overwrites it),
    # no checksum
    positions = {next((k for k in range(len(p[0])) if (counter_steps(p, k, 0xFF) == 1).all()),
                      None) for _, p in a.values()}
    assert len(positions - {None}) >= 4
    assert not all(np.bitwise_xor.reduce(p) == 0 for _, ps in a.values() for p in ps)


def test_vehicle_b_masquerade_keeps_the_counter_and_a_valid_checksum():
    rows = simulate_capture("masquerade", duration=5.0, n_bursts=2, seed=0, vehicle="b")
    t, ids, attack = _columns(rows)
    target = np.unique(ids[attack])
    assert target.size == 1
    mine = np.flatnonzero(ids == target[0])
    gaps = np.diff(t[mine])
    assert 0.85 * np.median(gaps) < gaps.min() and gaps.max() < 1.15 * np.median(gaps)
    payloads = np.array([rows[i][3] for i in mine])
    forged = payloads[attack[mine]]
    assert (np.diff(payloads[:, 1] & 0x0F) % 16 == 1).all()
    assert (np.bitwise_xor.reduce(forged, axis=1) == 0).all()
    assert (forged[:, 2:] == forged[0, 2:]).all()
    assert not (payloads[~attack[mine], 2:] == forged[0, 2:]).all(axis=1).any()


def test_spoofing_forges_a_legitimate_id_of_its_own_vehicle():
    for vehicle in ("a", "b"):
        rows = simulate_capture("spoofing", duration=3.0, n_bursts=1, seed=0, vehicle=vehicle)
        _, ids, attack = _columns(rows)
        assert np.unique(ids[attack]).tolist() == [VEHICLES[vehicle].spoofed_id]
        assert VEHICLES[vehicle].spoofed_id in set(ids[~attack].tolist())


def test_replay_resends_genuine_payloads_at_double_rate():
    rows = simulate_capture("replay", duration=10.0, n_bursts=3, seed=1)
    t, ids, attack = _columns(rows)
    target = np.unique(ids[attack])
    assert target.size == 1
    genuine = {tuple(rows[i][3]) for i in np.flatnonzero((ids == target[0]) & ~attack)}
    assert all(tuple(rows[i][3]) in genuine for i in np.flatnonzero(attack))
    # the first burst: replayed frames up to the first long pause
    replayed = t[attack]
    end = replayed[np.flatnonzero(np.diff(replayed) > 0.5)[0]]
    burst = (t >= replayed[0]) & (t <= end)
    during = np.count_nonzero(burst & (ids == target[0]))
    assert during == pytest.approx(2 * np.count_nonzero(burst & attack), abs=2)


@pytest.mark.parametrize("attack", ["masquerade", "replay"])
def test_new_attacks_ingest_with_their_labels(tmp_path, attack):
    rows = simulate_capture(attack, duration=4.0, n_bursts=2, seed=0)
    path = tmp_path / f"{attack}.csv"
    write_capture(path, rows)
    table = read_can_csv(path, attack, attack)
    assert (table["label"] == attack).sum() == sum(r[-1] == "T" for r in rows) > 0
    assert table["can_id"].tolist() == [r[1] for r in rows]
