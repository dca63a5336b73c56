"""Checkpoints, metrics history, progress and the batch-size probe."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pytest

from distillery.errors import InputError
from distillery.train.batch_probe import is_oom_error, probe_batch_size
from distillery.train.checkpoint import CheckpointManager
from distillery.train.history import MetricsHistory, Progress, epoch_summary


def test_checkpoints_latest_best_and_periodic(tmp_path) -> None:
    manager = CheckpointManager(tmp_path / "ckpt", every=2)
    assert manager.load_latest() is None
    for epoch in range(1, 5):
        state = {"w": np.full(3, float(epoch)), "rng": np.random.default_rng(epoch)}
        manager.save(state, epoch, is_best=epoch == 2)
    names = sorted(p.name for p in (tmp_path / "ckpt").iterdir())
    assert names == ["best.pkl", "epoch_0002.pkl", "epoch_0004.pkl", "latest.pkl"]
    epoch, state = manager.load_latest()
    assert epoch == 4 and np.array_equal(state["w"], np.full(3, 4.0))
    # the generator state survives exactly
    assert state["rng"].random() == np.random.default_rng(4).random()
    assert manager.load_best()[0] == 2


def test_corrupt_checkpoint_names_the_file(tmp_path) -> None:
    manager = CheckpointManager(tmp_path)
    manager.path("latest").write_bytes(b"not a pickle")
    with pytest.raises(InputError, match="latest.pkl"):
        manager.load_latest()


def test_history_writes_csv_and_parquet_and_resumes(tmp_path) -> None:
    history = MetricsHistory(tmp_path / "m.csv", tmp_path / "m.parquet")
    history.append({"epoch": 1, "train_loss": 1.0, "val_loss": 2.0})
    history.append({"epoch": 2, "train_loss": 0.5, "val_loss": 1.5})
    table = pd.read_parquet(tmp_path / "m.parquet")
    assert list(table["val_loss"]) == [2.0, 1.5]
    assert pd.read_csv(tmp_path / "m.csv").equals(table)
    resumed = MetricsHistory(tmp_path / "m.csv")
    resumed.load_state_dict(history.state_dict()[:1])
    resumed.append({"epoch": 2, "train_loss": 0.4, "val_loss": 1.4})
    assert list(pd.read_csv(tmp_path / "m.csv")["train_loss"]) == [1.0, 0.4]


def test_summary_line_and_progress() -> None:
    line = epoch_summary(3, {"loss": 0.5, "f_mae": 0.1}, {"loss": 0.25}, lr=1e-3)
    assert line == "epoch 3 | loss train 0.5 val 0.25 | f_mae train 0.1 | lr 0.001"
    stream = io.StringIO()
    progress = Progress(total=10, label="fit", interval=0.0, stream=stream)
    progress.update(0)
    assert progress.update(5).startswith("fit 5/10 (50%)")
    assert "steps/s ETA" in stream.getvalue()


@pytest.mark.parametrize(("limit", "maximum", "expected"), [(37, 1000, 37), (1000, 64, 64),
                                                            (5, 64, 5), (1, 8, 1)])
def test_probe_finds_the_largest_fitting_batch(limit: int, maximum: int, expected: int) -> None:
    tried = []

    def try_fn(n: int) -> None:
        tried.append(n)
        if n > limit:
            raise RuntimeError("RESOURCE_EXHAUSTED: Out of memory while trying to allocate")

    assert probe_batch_size(try_fn, start=8, maximum=maximum, is_oom=is_oom_error) == expected
    assert max(tried) <= maximum


def test_probe_propagates_other_errors_and_total_failure() -> None:
    def broken(n: int) -> None:
        raise ValueError("shape mismatch")

    with pytest.raises(ValueError):
        probe_batch_size(broken, 4, 16, is_oom_error)

    def never(n: int) -> None:
        raise MemoryError

    with pytest.raises(MemoryError):
        probe_batch_size(never, 4, 16, is_oom_error)


def test_jax_device_is_the_default_backend() -> None:
    import jax

    from distillery.train.device import describe_jax_device, jax_device

    assert jax_device().platform == jax.default_backend()
    info = describe_jax_device()
    assert info["platform"] == jax.default_backend()
    assert info["n_devices"] == len(jax.devices())
    assert info["dtype"] in ("float32", "float64")
