"""Splits are seeded partitions; the frame schema rejects inconsistent tables."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from distillery.data.frames import FrameSet, to_table
from distillery.data.schemas import validate_frames
from distillery.data.splits import block_split, random_split, read_splits, write_splits
from distillery.errors import InputError

FRACTIONS = {"train": 0.6, "val": 0.2, "test": 0.2}


def test_random_split_is_a_seeded_partition(tmp_path):
    a = random_split(101, FRACTIONS, seed=7)
    b = random_split(101, FRACTIONS, seed=7)
    c = random_split(101, FRACTIONS, seed=8)
    assert all(np.array_equal(a[k], b[k]) for k in a)
    assert not np.array_equal(a["test"], c["test"])
    assert sorted(np.concatenate(list(a.values())).tolist()) == list(range(101))
    assert [len(a[k]) for k in ("train", "val", "test")] == [61, 20, 20]
    write_splits(tmp_path / "s.json", a, seed=7)
    back = read_splits(tmp_path / "s.json")
    assert all(np.array_equal(a[k], back[k]) for k in a)


def test_block_split_keeps_contiguous_blocks_inside_each_capture():
    groups = np.array(["a"] * 50 + ["b"] * 30)
    splits = block_split(groups, FRACTIONS, seed=1, n_blocks=5)
    label = np.empty(80, dtype=object)
    for name, rows in splits.items():
        label[rows] = name
    assert set(label) == {"train", "val", "test"}
    # runs of one split inside a capture are whole blocks: 10 rows in a, 6 rows in b
    for group, size in (("a", 10), ("b", 6)):
        rows = np.flatnonzero(groups == group)
        changes = np.flatnonzero(label[rows][1:] != label[rows][:-1]) + 1
        assert all(c % size == 0 for c in changes)


def test_too_few_items_for_a_train_split():
    with pytest.raises(InputError, match="non-empty train split"):
        random_split(2, {"train": 0.0, "val": 0.5, "test": 0.5}, seed=0)


def test_schema_rejects_positions_of_wrong_length():
    fs = FrameSet(numbers=[np.array([1, 8])], positions=[np.zeros((2, 3))],
                  energy=np.array([0.0]), forces=[np.zeros((2, 3))])
    table = to_table(fs)
    validate_frames(table, "ok.parquet")
    broken = table.set_column(
        table.column_names.index("positions"), "positions",
        pa.array([[0.0] * 5], type=pa.list_(pa.float64())),
    )
    with pytest.raises(InputError, match="broken.parquet: table: .*positions has n_atoms\\*3"):
        validate_frames(broken, "broken.parquet")
    nan_energy = table.set_column(table.column_names.index("energy"), "energy",
                                  pa.array([np.nan]))
    with pytest.raises(InputError, match="nan.parquet: energy_finite: found 1 failing row"):
        validate_frames(nan_energy, "nan.parquet")
