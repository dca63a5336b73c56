"""No test window overlaps training time: windows of generated captures, split in time blocks."""

from __future__ import annotations

import numpy as np
import pytest

from distillery.can.dataset import build_all
from distillery.can.settings import WindowSettings
from distillery.data.can import combine_captures, read_can_csv
from distillery.data.generate.can_bus import simulate_capture, write_capture
from distillery.data.splits import block_split


@pytest.fixture(scope="module")
def windows(tmp_path_factory):
    folder = tmp_path_factory.mktemp("can")
    parts = []
    for attack in ("dos", "spoofing"):
        path = folder / f"{attack}.csv"
        write_capture(path, simulate_capture(attack, duration=4.0, n_bursts=2, seed=1))
        parts.append(read_can_csv(path, attack=attack, capture=attack))
    table = combine_captures(parts, str(folder))
    splits = block_split(table["capture"].to_numpy(), {"train": 0.6, "val": 0.2, "test": 0.2},
                         seed=0, n_blocks=5)
    _, windows, _ = build_all(table, splits, WindowSettings(size=50, stride=20), str(folder))
    return table, splits, windows


def test_no_test_window_overlaps_training_time(windows):
    _, _, table = windows
    for capture, rows in table.groupby("capture"):
        train = rows[rows.split == "train"]
        for split in ("val", "test"):
            for w in rows[rows.split == split].itertuples():
                overlap = (train.t_start <= w.t_end) & (train.t_end >= w.t_start)
                assert not overlap.any(), f"{capture} {split} window {w.window} overlaps train"


def test_every_window_is_made_of_rows_of_its_own_split(windows):
    frames, splits, table = windows
    for w in table.itertuples():
        rows = np.arange(w.first_frame, w.last_frame + 1)
        assert np.isin(rows, splits[w.split]).all()
        assert (frames["capture"].to_numpy()[rows] == w.capture).all()
    assert set(table.split) == {"train", "val", "test"}
    assert {"normal", "dos", "spoofing"} <= set(table.label)
