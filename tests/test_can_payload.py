"""The per-ID payload model on synthetic traffic whose normal behaviour is known: a forged
constant byte, a broken counter and a frozen signal each score above every normal window, the
statistic that fires names the ID, byte and kind, and normal windows it never saw land in the
calibrated tail as often as the tail quantile says."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from distillery.can.payload import CHANNELS, KINDS, Frames, PayloadModel, window_rows
from distillery.can.settings import PayloadSettings
from distillery.errors import InputError

SIZE = 20  # frames per window
# every window: 0x100 ten times, 0x200 and 0x300 five times each
CYCLE = (0x100, 0x200, 0x100, 0x300)


def _traffic(n_windows: int, seed: int) -> Frames:
    """0x100: a rolling counter (byte 0), a constant (byte 1) and a slow signal with sensor
    noise (byte 2), DLC 8; 0x200: a constant and a counter, DLC 4; 0x300: a random byte,
    DLC 2."""
    rng = np.random.default_rng(seed)
    can_id = np.resize(np.array(CYCLE), n_windows * SIZE)
    channels = np.zeros((len(can_id), len(CHANNELS)), dtype=np.int64)
    first = can_id == 0x100
    n = int(first.sum())
    start = int(rng.integers(0, 256))  # where the counters stand when the capture begins
    channels[first, 0] = (start + np.arange(n)) % 256
    channels[first, 1] = 0x42
    channels[first, 2] = np.round(128 + 60 * np.sin(np.arange(n) / 40.0 + seed)
                                  + rng.integers(-2, 3, n))
    channels[first, 8] = 8
    second = can_id == 0x200
    channels[second, 0] = 7
    channels[second, 1] = (start + np.arange(second.sum())) % 256
    channels[second, 8] = 4
    third = can_id == 0x300
    channels[third, 0] = rng.integers(0, 256, third.sum())
    channels[third, 8] = 2
    return Frames(can_id, channels)


def _rows(n_windows: int) -> np.ndarray:
    return np.arange(n_windows * SIZE).reshape(n_windows, SIZE)


@pytest.fixture(scope="module")
def model() -> PayloadModel:
    return PayloadModel.fit(_traffic(400, seed=0), _rows(400), PayloadSettings())


@pytest.fixture(scope="module")
def normal(model: PayloadModel) -> dict:
    """Normal windows the model never saw, their scores and calibrated statistics."""
    frames = _traffic(400, seed=1)
    return {"frames": frames, "score": model.score(frames, _rows(400)),
            "surprise": model.surprise(frames, _rows(400))}


def _term(model: PayloadModel, can_id: int, channel: str, kind: str) -> int:
    slot = int(np.searchsorted(model.ids, can_id))
    return (slot * len(CHANNELS) + CHANNELS.index(channel)) * len(KINDS) + KINDS.index(kind)


def _edited(normal: dict, window: int, can_id: int, channel: str, values) -> Frames:
    """A copy of the normal frames with `channel` of `can_id`'s frames in `window` set."""
    channels = normal["frames"].channels.copy()
    rows = _rows(window + 1)[window]
    mine = rows[normal["frames"].can_id[rows] == can_id]
    channels[mine, CHANNELS.index(channel)] = values(channels[mine, CHANNELS.index(channel)])
    return Frames(normal["frames"].can_id, channels)


def _window_score(model: PayloadModel, frames: Frames, window: int) -> tuple[float, int]:
    """Score of one window and the statistic behind it."""
    rows = _rows(window + 1)[window:]
    return float(model.score(frames, rows)[0]), int(model.surprise(frames, rows)[0].argmax())


def test_a_forged_byte_outside_its_range_scores_above_every_normal_window(model, normal):
    forged = _edited(normal, 7, 0x100, "b1", lambda v: np.where(np.arange(len(v)) < 3, 0x99, v))
    score, term = _window_score(model, forged, 7)
    assert score > normal["score"].max() + 5
    assert term == _term(model, 0x100, "b1", "value")
    # one frame less forged is less surprising: the score grows with the evidence
    fewer = _edited(normal, 7, 0x100, "b1", lambda v: np.where(np.arange(len(v)) < 2, 0x99, v))
    assert normal["score"].max() < _window_score(model, fewer, 7)[0] < score


def test_a_counter_break_is_detected_by_the_change_of_the_counter(model, normal):
    # 0x200's counter jumps back by five half-way through the window: every value is one the
    # counter takes anyway, only the change from the frame before is new
    broken = _edited(normal, 11, 0x200, "b1",
                     lambda v: np.where(np.arange(len(v)) >= 3, (v - 5) % 256, v))
    score, term = _window_score(model, broken, 11)
    assert score > np.quantile(normal["score"], 0.99)
    assert term == _term(model, 0x200, "b1", "change")


def test_a_frozen_signal_inside_its_range_is_detected(model, normal):
    # 0x100's signal held at its window mean: every value is in range, but the sensor noise
    # that spreads its changes is gone
    frozen = _edited(normal, 5, 0x100, "b2", lambda v: np.full_like(v, int(v.mean())))
    score, term = _window_score(model, frozen, 5)
    assert score > np.quantile(normal["score"], 0.99)
    assert term in (_term(model, 0x100, "b2", "value"), _term(model, 0x100, "b2", "change"))


def test_unknown_ids_and_a_flood_fire_the_id_statistic(model, normal):
    can_id = normal["frames"].can_id.copy()
    rows = _rows(4)[3]
    can_id[rows[::2]] = 0x7FF  # an ID never seen, on half of the window's frames
    flooded = Frames(can_id, normal["frames"].channels)
    score, term = _window_score(model, flooded, 3)
    assert score > normal["score"].max()
    assert term == model.tail_start.size - 1


def test_normal_windows_are_calibrated(model, normal):
    # each statistic's tail starts at the 0.9 quantile of the training windows' cross-fitted
    # statistics: about a tenth of unseen normal windows lie above it (fewer where half the
    # training windows estimate a histogram less well than all of them), none far more
    above = np.mean(normal["surprise"] > 0, axis=0)
    assert above.max() <= 0.15
    assert 0.04 <= above[_term(model, 0x100, "b2", "change")] <= 0.15
    # the constant and counter bytes and the fixed ID mix are never surprising
    for term in (_term(model, 0x100, "b1", "value"), _term(model, 0x200, "b1", "change"),
                 model.tail_start.size - 1):
        assert normal["surprise"][:, term].max() <= 0
    # and the window score (the largest statistic) keeps a normal window within a few nats
    assert np.quantile(normal["score"], 0.99) < 6


def test_a_window_scores_the_same_alone_in_a_batch_and_after_a_round_trip(model, normal,
                                                                          tmp_path):
    rows = _rows(50)
    batch = model.score(normal["frames"], rows)
    alone = np.array([model.score(normal["frames"], w[None])[0] for w in rows[:5]])
    np.testing.assert_allclose(alone, batch[:5], rtol=0, atol=1e-12)
    model.save(tmp_path / "payload.safetensors", {"windows": 400})
    loaded, metadata = PayloadModel.load(tmp_path / "payload.safetensors")
    assert metadata["windows"] == 400 and metadata["channels"] == list(CHANNELS)
    np.testing.assert_array_equal(loaded.score(normal["frames"], rows), batch)
    (tmp_path / "other.safetensors").write_bytes(b"not a model")
    with pytest.raises(InputError, match="other.safetensors"):
        PayloadModel.load(tmp_path / "other.safetensors")


def test_window_rows_follow_the_windows_table():
    frame = np.arange(100, 160)
    table = pd.DataFrame({"first_frame": [100, 120], "last_frame": [119, 139]})
    np.testing.assert_array_equal(window_rows(table, frame, SIZE, "w.parquet"),
                                  [np.arange(0, 20), np.arange(20, 40)])
    with pytest.raises(InputError, match="w.parquet"):
        window_rows(table.assign(last_frame=[118, 139]), frame, SIZE, "w.parquet")
