"""Window -> graph construction, window labels, cached graphs and bad input."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
from pydantic import ValidationError

from distillery.can.dataset import build_all, build_split, load_graphs, save_graphs
from distillery.can.features import FEATURE_NAMES
from distillery.can.graph import window_graph
from distillery.can.settings import WindowSettings
from distillery.can.windows import contiguous_runs, split_windows, window_label
from distillery.data.schemas import CAN_BYTES
from distillery.errors import InputError
from tests.pickles import malicious_pickle, malicious_torch_file

# (time s, id, dlc, payload)
FRAMES = [
    (0.00, 0x100, 2, [10, 20]),
    (0.01, 0x200, 1, [255]),
    (0.02, 0x100, 2, [30, 20]),
    (0.03, 0x100, 2, [50, 20]),
    (0.05, 0x300, 0, []),
]


def _arrays(frames):
    payload = np.zeros((len(frames), 8), dtype=np.uint8)
    for i, (*_, data) in enumerate(frames):
        payload[i, : len(data)] = data
    return (np.array([f[1] for f in frames]), np.array([f[0] for f in frames]),
            np.array([f[2] for f in frames], dtype=np.int8), payload)


def _table(labels, captures=None, dt=0.01, vehicles=None):
    """A frames table in the ingest schema with one frame per label."""
    n = len(labels)
    rng = np.random.default_rng(0)
    table = pd.DataFrame({
        "frame": np.arange(n, dtype=np.int64),
        "capture": captures if captures is not None else ["a"] * n,
        "vehicle": vehicles if vehicles is not None else ["car"] * n,
        "timestamp": np.arange(n) * dt,
        "can_id": rng.choice([0x100, 0x200, 0x300], n).astype(np.int32),
        "dlc": np.full(n, 8, dtype=np.int8),
        **{b: rng.integers(0, 256, n).astype(np.uint8) for b in CAN_BYTES},
        "label": pd.Categorical(labels),
    })
    return table


def test_hand_made_window_gives_expected_nodes_edges_and_features():
    graph = window_graph(*_arrays(FRAMES))
    assert graph.can_ids.tolist() == [0x100, 0x200, 0x300]
    # transitions 100->200, 200->100, 100->100, 100->300, once each out of four
    edges = sorted(zip(*graph.edge_index.tolist(), strict=True))
    assert edges == [(0, 0), (0, 1), (0, 2), (1, 0)]
    np.testing.assert_allclose(graph.edge_weight, 0.25)

    f = {name: graph.x[:, i] for i, name in enumerate(FEATURE_NAMES)}
    assert graph.x.shape == (3, len(FEATURE_NAMES))
    np.testing.assert_allclose(f["count_frac"], [3 / 5, 1 / 5, 1 / 5])
    # 0x100 gaps 20 ms and 10 ms; IDs seen once get the 50 ms window span and no spread
    np.testing.assert_allclose(f["log_gap_mean_ms"], np.log1p([15.0, 50.0, 50.0]), rtol=1e-5)
    np.testing.assert_allclose(f["log_gap_std_ms"], np.log1p([5.0, 0.0, 0.0]), atol=1e-5)
    np.testing.assert_allclose(f["dlc_frac"], [2 / 8, 1 / 8, 0.0])
    np.testing.assert_allclose(f["id_frac"], np.array([0x100, 0x200, 0x300]) / 0x7FF, rtol=1e-6)
    np.testing.assert_allclose(f["b0_mean"], [30 / 255, 1.0, 0.0], rtol=1e-6)
    np.testing.assert_allclose(f["b0_std"], [np.std([10, 30, 50]) / 255, 0.0, 0.0], rtol=1e-5)
    np.testing.assert_allclose(f["b1_mean"], [20 / 255, 0.0, 0.0], rtol=1e-6)
    np.testing.assert_allclose(f["b1_std"], 0.0, atol=1e-6)


@pytest.mark.parametrize(("labels", "expected"), [
    (["normal"] * 10, "normal"),
    (["normal"] * 9 + ["dos"], "dos"),            # 10 % >= 10 %
    (["normal"] * 19 + ["dos"], "normal"),        # 5 % < 10 %
    (["normal"] * 6 + ["dos"] + ["fuzzy"] * 3, "fuzzy"),
])
def test_window_label_uses_the_threshold_and_the_majority_attack(labels, expected):
    spec = WindowSettings(size=10, stride=5, label_threshold=0.1)
    assert window_label(np.array(labels), spec) == expected


def test_windows_stay_inside_one_capture_and_one_run_of_a_split():
    captures = np.array(["a"] * 10 + ["b"] * 10)
    rows = np.r_[0:7, 8:20]  # a gap at row 7 (another split) and a capture change at row 10
    runs = contiguous_runs(captures, rows)
    assert [r.tolist() for r in runs] == [list(range(7)), [8, 9], list(range(10, 20))]
    table = _table(["normal"] * 20, captures=captures.tolist())
    windows = split_windows(table, rows, WindowSettings(size=4, stride=2))
    assert [w[0] for w in windows] == [0, 2, 10, 12, 14, 16]
    for w in windows:
        assert np.all(np.diff(w) == 1) and len(set(captures[w])) == 1


def test_cached_graphs_round_trip(tmp_path):
    table = _table(["normal"] * 30 + ["dos"] * 10)
    classes = ["normal", "dos"]
    spec = WindowSettings(size=10, stride=10, label_threshold=0.5)
    collated, windows = build_split(table, np.arange(40), spec, classes, "test")
    save_graphs(tmp_path / "test.npz", collated)
    graphs = load_graphs(tmp_path / "test.npz")
    assert [int(g.y) for g in graphs] == [0, 0, 0, 1] == [classes.index(x) for x in windows.label]
    for graph, row in zip(graphs, windows.itertuples(), strict=True):
        rows = np.arange(row.first_frame, row.last_frame + 1)
        expected = window_graph(table.can_id.to_numpy()[rows], table.timestamp.to_numpy()[rows],
                                table.dlc.to_numpy()[rows], table[CAN_BYTES].to_numpy()[rows])
        torch.testing.assert_close(graph.x, torch.from_numpy(expected.x))
        torch.testing.assert_close(graph.edge_index, torch.from_numpy(expected.edge_index))


def test_frames_out_of_time_order_are_rejected():
    table = _table(["normal"] * 30)
    table.loc[12, "timestamp"] = 0.0
    splits = {"train": np.arange(10), "val": np.arange(10, 20), "test": np.arange(20, 30)}
    with pytest.raises(InputError, match=r"frames\.parquet: timestamp \(capture a, frame 12\)"):
        build_all(table, splits, WindowSettings(size=5, stride=5), "frames.parquet")


def test_a_split_without_a_full_window_is_an_error():
    table = _table(["normal"] * 30)
    splits = {"train": np.arange(20), "val": np.arange(20, 24), "test": np.arange(24, 30)}
    with pytest.raises(InputError, match="val split: found no full window"):
        build_all(table, splits, WindowSettings(size=5, stride=5), "frames.parquet")


@pytest.mark.parametrize("options", [{"size": 1}, {"stride": 0}, {"label_threshold": 0.0},
                                     {"label_threshold": 1.5}])
def test_bad_window_settings_are_rejected(options):
    with pytest.raises(ValidationError, match=next(iter(options))):
        WindowSettings(**options)


def test_an_unreadable_graph_cache_names_the_file_and_the_fix(tmp_path):
    path = tmp_path / "train.npz"
    path.write_bytes(b"not an npz file")
    with pytest.raises(InputError, match=r"train\.npz: file: found an unreadable NPZ archive.*"
                                         r"fix: rerun the can_graphs rule"):
        load_graphs(path)


def _collated() -> dict[str, np.ndarray]:
    # two graphs: 2 nodes / 1 edge and 3 nodes / 2 edges
    return {"x": np.zeros((5, len(FEATURE_NAMES)), np.float32),
            "edge_index": np.array([[0, 0, 2], [1, 1, 0]]), "edge_weight": np.ones(3, np.float32),
            "node_ptr": np.array([0, 2, 5]), "edge_ptr": np.array([0, 1, 3]),
            "y": np.array([0, 1])}


@pytest.mark.parametrize(("change", "message"), [
    ({"node_ptr": np.array([0, 3, 4])}, "node_ptr: found offsets that do not split 5 rows"),
    ({"edge_index": np.array([[0, 0, 3], [1, 1, 0]])}, "edge_index: found node indices outside"),
    ({"y": np.array([0.0, 1.0])}, "y: found a 1-d float64 array"),
])
def test_inconsistent_graph_arrays_are_input_errors(tmp_path, change, message):
    path = tmp_path / "val.npz"
    save_graphs(path, {**_collated(), **change})
    with pytest.raises(InputError, match=rf"val\.npz: {message}"):
        load_graphs(path)
    save_graphs(path, _collated())
    assert [g.num_nodes for g in load_graphs(path)] == [2, 3]


def test_a_pickled_graph_file_is_refused_without_running_it(tmp_path):
    marker = tmp_path / "ran"
    path = tmp_path / "test.npz"
    malicious_torch_file(path, marker)  # a torch.save'd file of the old cache format
    with pytest.raises(InputError, match=r"test\.npz: file: found a pickle file, expected graphs"):
        load_graphs(path)
    path.write_bytes(malicious_pickle(marker))
    with pytest.raises(InputError, match=r"test\.npz: file: found a pickle file"):
        load_graphs(path)
    assert not marker.exists()
