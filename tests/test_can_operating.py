"""Operating points on a long attack-free capture: the generator's streamed capture, scoring it
block by block equal to scoring its cached window graphs, and false alarms per hour."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from distillery.can.dataset import build_split, load_graphs, save_graphs
from distillery.can.features import FEATURE_NAMES
from distillery.can.fusion import FittedFusion, QNetwork, ZScaler, dqn_scores, stacking_scores
from distillery.can.models.build import build_classifier
from distillery.can.operating import (
    StreamScores,
    fpr_upper_bound,
    operating_points,
    operating_table,
    stream_scores,
)
from distillery.can.payload import Frames as PayloadFrames
from distillery.can.payload import PayloadModel
from distillery.can.scores import anomaly_scores
from distillery.can.settings import GATSettings, PayloadSettings, VGAESettings, WindowSettings
from distillery.data.can import Capture, CaptureReader, read_can_csv
from distillery.data.generate.can_bus import (
    ATTACKS,
    VEHICLES,
    _rng,
    normal_blocks,
    simulate_capture,
    write_blocks,
)


def _frames(blocks):
    return [np.concatenate(column) for column in zip(*blocks, strict=True)]


@pytest.mark.parametrize("vehicle", list(VEHICLES))
def test_long_capture_is_the_vehicles_normal_traffic_whatever_the_blocks(vehicle):
    t, can_id, dlc, data = _frames(normal_blocks(8.0, seed=3, vehicle=vehicle, block_seconds=8))
    again = _frames(normal_blocks(8.0, seed=3, vehicle=vehicle, block_seconds=0.7))
    for a, b in zip((t, can_id, dlc, data), again, strict=True):
        np.testing.assert_array_equal(a, b)
    assert np.all(np.diff(t) >= 0) and 7.9 < t[-1] - t[0] < 8.0
    # the ECUs of the attack captures: same IDs, DLCs and frame rates
    rows = simulate_capture(ATTACKS[3], duration=8.0, n_bursts=1, seed=3, vehicle=vehicle)
    normal = [r for r in rows if r[-1] == "R"]
    assert set(can_id) == {r[1] for r in normal}
    assert dict(zip(can_id, dlc, strict=True)) == {r[1]: r[2] for r in normal}
    assert abs(len(t) - len(rows)) < 0.03 * len(rows)
    # bytes beyond the DLC are 0; a different seed is different traffic
    assert not np.any(data * (np.arange(8)[None, :] >= dlc[:, None]))
    other = _frames(normal_blocks(8.0, seed=4, vehicle=vehicle))[0]
    assert not np.array_equal(t[:100], other[:100])


@pytest.mark.parametrize("vehicle", list(VEHICLES))
def test_vectorised_payloads_are_the_generators_payloads(vehicle):
    car = VEHICLES[vehicle]
    spec = car.ecus(_rng(0, vehicle, 0), car.n_ids)[2]
    t, count = np.linspace(0.0, 20.0, 50), np.arange(250, 300)
    noise = np.random.default_rng(0).integers(*car.noise, 50)

    class Fixed:  # the scalar payload draws its noise: hand it the same values
        def __init__(self):
            self.values = iter(noise)

        def integers(self, low, high):
            return next(self.values)

    fixed = Fixed()
    expected = np.array([car.payload(fixed, spec, ti, ci) for ti, ci in zip(t, count, strict=True)])
    np.testing.assert_array_equal(car.payloads(spec, t, count, noise), expected)


@pytest.fixture(scope="module")
def small_capture(tmp_path_factory):
    path = tmp_path_factory.mktemp("long") / "normal.csv"
    frames = write_blocks(path, normal_blocks(6.0, seed=1, block_seconds=1.5))
    return path, frames


def test_streamed_scores_equal_the_scores_of_the_cached_graphs(small_capture, tmp_path):
    path, n_frames = small_capture
    spec = WindowSettings(size=40, stride=15)
    table = read_can_csv(path, "attack", "long")
    assert len(table) == n_frames
    collated, windows = build_split(table, np.arange(len(table)), spec, ["normal"], "test")
    save_graphs(tmp_path / "g.npz", collated)
    graphs = load_graphs(tmp_path / "g.npz")
    torch.manual_seed(0)
    d = len(FEATURE_NAMES)
    mean, std = collated["x"].mean(0).tolist(), (collated["x"].std(0) + 1.0).tolist()
    models = {"teacher": build_classifier(GATSettings(hidden=8, heads=2, layers=2), d, 3,
                                          mean, std).eval(),
              "vgae": build_classifier(VGAESettings(hidden=8, latent=4, layers=1), d, 3,
                                       mean, std).eval()}
    rows = np.arange(len(windows))[:, None] * spec.stride + np.arange(spec.size)
    payload = PayloadModel.fit(PayloadFrames.from_table(table), rows[::2], PayloadSettings())
    expected = {name: anomaly_scores(m, graphs, 7, torch.device("cpu"))
                for name, m in models.items()}
    expected["payload"] = payload.score(PayloadFrames.from_table(table), rows)
    inputs = ["teacher", "vgae", "payload"]
    stacked = np.stack([expected[m] for m in inputs], 1)
    scaler = ZScaler.fit(stacked, np.arange(len(stacked)) % 3 > 0)
    q = QNetwork(8, 5, 3).eval()
    coef = np.array([0.5, 1.0, -0.3, 0.7])
    fusion = FittedFusion(inputs, scaler, coef, q, 5)
    expected["stacking"] = stacking_scores(coef, scaler(stacked))
    expected["dqn"] = dqn_scores(q, scaler(stacked), 5)[0]

    # ~6 kB blocks: windows span blocks; the stream holds one block's graphs at a time
    reader = CaptureReader(Capture(str(path), "long"), block_bytes=6000, threads=0)
    streamed = stream_scores(reader, spec.size, spec.stride, models, 64, torch.device("cpu"),
                             payload=payload, fusion=fusion)
    assert len(streamed) == len(windows) > 300 and streamed.frames == n_frames
    assert set(streamed.scores) == set(expected)
    for name, values in expected.items():
        # float32 models batch the windows differently; the fusions take logs of the scores
        tolerance = 1e-4 if name in ("stacking", "dqn") else 1e-6
        np.testing.assert_allclose(streamed.scores[name], values, rtol=tolerance,
                                   atol=tolerance, err_msg=name)
    np.testing.assert_allclose(streamed.t_start, windows["t_start"])
    np.testing.assert_allclose(streamed.t_end, windows["t_end"])


def test_fitted_fusion_reads_what_it_saved(tmp_path):
    q = QNetwork(4, 3, 2).eval()
    fusion = FittedFusion(["teacher", "vgae"], ZScaler(np.array([0.1, -1.0]), np.array([2.0, 0.5])),
                          np.array([0.2, 1.5, -0.5]), q, 3)
    fusion.save(tmp_path / "f.safetensors", {"hidden": 4, "actions": 3})
    again = FittedFusion.load(tmp_path / "f.safetensors")
    scores = {"teacher": np.array([0.01, 0.5, 0.9]), "vgae": np.array([3.0, 1.0, 20.0])}
    for name, values in fusion(scores).items():
        np.testing.assert_array_equal(again(scores)[name], values)


def test_false_alarms_per_hour_of_a_synthetic_score_stream():
    # 4 h of windows of 2 s every second; the first quarter sets the thresholds
    n = 4 * 3600
    t_start = 1000.0 + np.arange(n, dtype=np.float64)
    t_end = t_start + 2.0
    scores = np.zeros(n)
    scores[:3600] = np.arange(3600) / 3600  # calibration: distinct values 0 .. 0.9997
    evaluation = t_start > t_end[3599]  # the window starting at 3600 s overlaps: skipped
    assert evaluation.sum() == n - 3602
    alarms = [5000, 6000, 7000, 9000, 12000, 14000]
    scores[alarms] = 2.0  # above every threshold
    scores[3600] = 5.0  # overlaps the calibration windows: not counted
    scores[9500] = 0.9995  # above the 1e-2 and 1e-3 thresholds, not the 1e-4 one (the max)
    test_labels = np.array([0, 1, 1, 2, 2])
    test = {"x": np.array([0.0, 0.995, 0.5, 3.0, 0.9991])}
    stream = StreamScores({"x": scores}, t_start, t_end, frames=123)
    figures = operating_points(stream, (0.01, 0.001, 1e-4), 0.25, {"x": np.array([0.2, 0.4])},
                               test, test_labels, ["normal", "dos", "fuzzy"])
    hours = (t_end[-1] - t_start[3602]) / 3600  # 10 799 s
    assert figures["evaluation_windows"] == n - 3602 and figures["calibration_windows"] == 3600
    assert figures["evaluation_hours"] == pytest.approx(hours)
    points = figures["models"]["x"]["capture_thresholds"]
    # thresholds: at most f of the 3600 calibration scores above them
    assert points["0.01"]["threshold"] == pytest.approx(3563 / 3600)
    assert points["0.001"]["threshold"] == pytest.approx(3596 / 3600)
    assert points["0.0001"]["threshold"] == pytest.approx(3599 / 3600)
    assert points["0.01"]["false_alarms"] == points["0.001"]["false_alarms"] == 7
    assert points["0.0001"]["false_alarms"] == 6
    assert points["0.0001"]["false_alarms_per_hour"] == pytest.approx(6 / hours)
    assert points["0.0001"]["fpr"] == pytest.approx(6 / (n - 3602))
    assert points["0.01"]["detection"] == {"dos": 0.5, "fuzzy": 1.0}
    # only 3.0 is above 3599 / 3600 = 0.99972
    assert points["0.0001"]["detection_rate"] == pytest.approx(0.25)
    assert points["0.0001"]["detection"] == {"dos": 0.0, "fuzzy": 0.5}
    # the validation thresholds (the max of two normal windows: 0.4) on the same windows
    val = figures["models"]["x"]["validation_thresholds"]["0.0001"]
    assert val["threshold"] == 0.4
    assert val["false_alarms"] == int((scores[evaluation] > 0.4).sum())
    table = operating_table(figures)
    assert len(table) == 6 and set(table["thresholds"]) == {"capture", "validation"}


def test_fpr_upper_bound_is_the_exact_binomial_bound():
    # no alarm in n windows: 1 - 0.05 ** (1 / n), about 3 / n
    assert fpr_upper_bound(0, 30000) == pytest.approx(1 - 0.05 ** (1 / 30000))
    assert fpr_upper_bound(0, 30000) == pytest.approx(3 / 30000, rel=0.01)
    assert fpr_upper_bound(3, 3) == 1.0
    assert 3 / 30000 < fpr_upper_bound(3, 30000) < 3 * 3 / 30000
