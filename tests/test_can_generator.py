"""Generated CAN captures: determinism, the masquerade (also with in-range forgeries) and replay
attacks, which leave the ID-to-ID timing normal, and captures pinned as they were written."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest

from distillery.data.can import read_can_csv
from distillery.data.generate.can_bus import ATTACKS, simulate_capture, write_capture


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


def test_masquerade_keeps_the_timing_and_forges_the_payload():
    # seed 0: the target ECU has a rolling counter (in some vehicles its signal overwrites it)
    rows = simulate_capture("masquerade", duration=10.0, n_bursts=3, seed=0)
    t, ids, attack = _columns(rows)
    target = np.unique(ids[attack])
    assert target.size == 1  # one silenced ECU
    mine = ids == target[0]
    gaps = np.diff(t[mine])
    period = np.median(gaps)
    # no frame of the ECU is added or dropped: its period holds through the attack
    assert 0.85 * period < gaps.min() and gaps.max() < 1.15 * period
    payloads = np.array([rows[i][3] for i in np.flatnonzero(mine)])
    forged, genuine = payloads[attack[mine]], payloads[~attack[mine]]
    # the counter runs on through forged frames; the other bytes are forged constants
    counter = next(b for b in range(payloads.shape[1])
                   if (np.diff(genuine[:50, b]) % 256 == 1).all())
    assert (np.diff(payloads[:, counter]) % 256 == 1).all()
    others = np.delete(forged, counter, axis=1)
    assert (others == others[0]).all()
    assert not (np.delete(genuine, counter, axis=1) == others[0]).all(axis=1).any()


def test_subtle_masquerade_forges_every_byte_inside_its_normal_range():
    rows = simulate_capture("masquerade_subtle", duration=10.0, n_bursts=3, seed=0)
    t, ids, attack = _columns(rows)
    target = np.unique(ids[attack])
    assert target.size == 1
    mine = ids == target[0]
    gaps = np.diff(t[mine])
    assert 0.85 * np.median(gaps) < gaps.min() and gaps.max() < 1.15 * np.median(gaps)
    payloads = np.array([rows[i][3] for i in np.flatnonzero(mine)])
    forged, genuine = payloads[attack[mine]], payloads[~attack[mine]]
    # the counter runs on; every other byte is one forged value within the genuine range
    counter = next(b for b in range(payloads.shape[1])
                   if (np.diff(genuine[:50, b]) % 256 == 1).all())
    assert (np.diff(payloads[:, counter]) % 256 == 1).all()
    others = np.delete(forged, counter, axis=1)
    assert (others == others[0]).all()
    assert ((forged >= genuine.min(0)) & (forged <= genuine.max(0))).all()
    # constant bytes keep their value, so the forgery is in the varying signal alone
    constant = genuine.min(0) == genuine.max(0)
    assert constant.sum() >= 6
    assert (forged[:, constant] == genuine[0, constant]).all()
    assert not (np.delete(genuine, counter, axis=1) == others[0]).all(axis=1).all()


# the captures of every attack before masquerade_subtle, as they were written before it was
# added: a new attack must leave the others exactly as hard as they were
PINNED = {"dos": "a02127b01b92a347", "fuzzy": "99708cc3f6713465",
          "spoofing": "d8125c510c5bc013", "masquerade": "5c50bd748c5287a0",
          "replay": "78795da278bec048"}


@pytest.mark.parametrize("attack", sorted(PINNED))
def test_adding_an_attack_leaves_the_other_captures_as_they_were(tmp_path, attack):
    write_capture(tmp_path / "c.csv", simulate_capture(attack, duration=3.0, n_bursts=2, seed=3))
    assert hashlib.sha256((tmp_path / "c.csv").read_bytes()).hexdigest()[:16] == PINNED[attack]


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
