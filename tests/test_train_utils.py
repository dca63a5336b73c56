"""Checkpoints, metrics history, progress and the batch-size probe."""

from __future__ import annotations

import hashlib
import io
import json
import pickle
import re

import numpy as np
import pandas as pd
import pytest
import torch

from distillery.array_files import save_arrays
from distillery.errors import InputError
from distillery.train.batch_probe import is_oom_error, probe_batch_size
from distillery.train.checkpoint import CheckpointManager, restore_generator
from distillery.train.history import MetricsHistory, Progress, epoch_summary
from distillery.train.tensor_files import load_tensors, save_tensors
from tests.pickles import malicious_pickle, malicious_torch_file


def test_checkpoints_latest_best_and_periodic(tmp_path) -> None:
    manager = CheckpointManager(tmp_path / "ckpt", every=2)
    assert manager.load_latest() is None
    for epoch in range(1, 5):
        state = {"w": np.full(3, float(epoch)), "step": np.int32(epoch),
                 "rng": np.random.default_rng(epoch).bit_generator.state,
                 "nested": {"pair": (np.arange(2), 0.5), "none": None}}
        manager.save(state, epoch, is_best=epoch == 2)
    names = sorted(p.name for p in (tmp_path / "ckpt").iterdir())
    assert names == ["best-0002.npz", "best.json", "epoch_0002-0002.npz", "epoch_0002.json",
                     "epoch_0004-0004.npz", "epoch_0004.json", "latest-0004.npz", "latest.json"]
    epoch, state = manager.load_latest()
    assert epoch == 4 and np.array_equal(state["w"], np.full(3, 4.0))
    assert state["step"].dtype == np.int32 and state["step"] == 4
    assert state["nested"]["pair"][1] == 0.5 and state["nested"]["none"] is None
    # the generator state survives exactly, through JSON
    rng = restore_generator(state["rng"], manager.path("latest"))
    assert rng.random() == np.random.default_rng(4).random()
    assert manager.load_best()[0] == 2
    assert json.loads(manager.path("latest").read_text())["epoch"] == 4


def test_a_kill_between_arrays_and_json_leaves_the_last_checkpoint_whole(tmp_path) -> None:
    manager = CheckpointManager(tmp_path)
    manager.save({"w": np.zeros(2)}, 1)
    # epoch 2's arrays written, the job killed before its JSON
    save_arrays(tmp_path / "latest-0002.npz", {"w": np.ones(2)})
    epoch, state = manager.load_latest()
    assert epoch == 1 and np.array_equal(state["w"], np.zeros(2))
    manager.save({"w": np.full(2, 3.0)}, 3)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["latest-0003.npz", "latest.json"]


def test_torch_checkpoints_keep_tensors_and_integer_keys(tmp_path) -> None:
    model = torch.nn.Linear(3, 2)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    model(torch.ones(1, 3)).sum().backward()
    optimizer.step()
    manager = CheckpointManager(tmp_path, tensors=True)
    rng = torch.get_rng_state()
    # a state dict and a snapshot sharing its memory, as on the CPU
    manager.save({"model": model.state_dict(), "best": model.state_dict(),
                  "optimizer": optimizer.state_dict(), "rng": rng}, 1)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["latest-0001.safetensors",
                                                          "latest.json"]
    _, state = manager.load_latest()
    fresh = torch.optim.AdamW(torch.nn.Linear(3, 2).parameters(), lr=1e-3)
    fresh.load_state_dict(state["optimizer"])
    assert set(fresh.state_dict()["state"]) == {0, 1}
    for key, value in optimizer.state_dict()["state"][0].items():
        torch.testing.assert_close(fresh.state_dict()["state"][0][key], value, rtol=0, atol=0)
    assert torch.equal(state["rng"], rng) and torch.equal(state["best"]["bias"], model.bias)


def test_corrupt_checkpoint_names_the_file(tmp_path) -> None:
    manager = CheckpointManager(tmp_path)
    manager.path("latest").write_bytes(b"not json")
    with pytest.raises(InputError, match=r"latest\.json: checkpoint: found unreadable JSON"):
        manager.load_latest()
    manager.save({"w": np.arange(3.0)}, 1)
    arrays = tmp_path / "latest-0001.npz"
    arrays.write_bytes(arrays.read_bytes()[:-10])
    with pytest.raises(InputError, match=r"latest\.json: sha256: found a digest that differs "
                                         r"from latest-0001\.npz's"):
        manager.load_latest()
    arrays.unlink()
    with pytest.raises(InputError, match=r"latest\.json: arrays: found a reference to the "
                                         r"missing latest-0001\.npz"):
        manager.load_latest()


def test_a_safetensors_header_length_that_looks_like_a_pickle_marker_loads(tmp_path) -> None:
    path = tmp_path / "t.safetensors"
    for pad in range(700, 1000):
        save_tensors(path, {"w": torch.ones(2)}, {"pad": "x" * pad})
        if path.read_bytes()[:2] == b"\x80\x03":  # also the start of a protocol-3 pickle
            break
    assert path.read_bytes()[:2] == b"\x80\x03"
    tensors, metadata = load_tensors(path, "tensors", "fix")
    assert torch.equal(tensors["w"], torch.ones(2)) and len(metadata["pad"]) == pad


def test_the_test_pickle_runs_code_when_unpickled(tmp_path) -> None:
    marker = tmp_path / "ran"
    pickle.loads(malicious_pickle(marker))
    assert marker.exists()


@pytest.mark.parametrize("tensors", [False, True], ids=["npz", "safetensors"])
def test_pickled_checkpoints_are_refused_without_running_them(tmp_path, tensors) -> None:
    marker = tmp_path / "ran"
    manager = CheckpointManager(tmp_path / "ckpt", tensors=tensors)
    # a checkpoint from before the JSON format
    (tmp_path / "ckpt").mkdir()
    manager.directory.joinpath("latest.pkl").write_bytes(malicious_pickle(marker))
    with pytest.raises(InputError, match=r"latest\.pkl: checkpoint: found a pickle file .*fix: "
                                         r"delete .*latest\.pkl"):
        manager.load_latest()
    # a pickle in place of the JSON, and in place of the arrays file (with its digest)
    manager.save({"w": torch.zeros(2) if tensors else np.zeros(2)}, 1)
    json_path = manager.path("latest")
    good = json_path.read_bytes()
    json_path.write_bytes(malicious_pickle(marker))
    with pytest.raises(InputError, match=r"latest\.json: checkpoint: found a pickle file"):
        manager.load_latest()
    json_path.write_bytes(good)
    payload = json.loads(good)
    arrays = manager.directory / payload["arrays"]
    if tensors:
        malicious_torch_file(arrays, marker)
    else:
        arrays.write_bytes(malicious_pickle(marker))
    payload["sha256"] = hashlib.sha256(arrays.read_bytes()).hexdigest()
    json_path.write_text(json.dumps(payload))
    with pytest.raises(InputError, match=rf"^{re.escape(str(arrays))}: file: found a pickle"):
        manager.load_latest()
    assert not marker.exists()


def test_restored_optax_state_checks_the_template(tmp_path) -> None:
    import jax
    import optax

    from distillery.potentials.tree_arrays import fill_template

    params = {"w": np.ones(3, np.float32)}
    optimizer = optax.chain(optax.clip_by_global_norm(1.0), optax.scale_by_adam())
    opt_state = jax.device_get(optimizer.init(params))
    manager = CheckpointManager(tmp_path)
    manager.save({"opt_state": opt_state}, 1)
    loaded = manager.load_latest()[1]["opt_state"]
    restored = fill_template(opt_state, jax.tree.leaves(loaded), "x", "opt_state", fix="f")
    assert jax.tree.structure(restored) == jax.tree.structure(opt_state)
    other = optimizer.init({"w": np.ones(4, np.float32)})
    with pytest.raises(InputError, match=r"x: opt_state/1/mu/w: found shape \(3,\) float32, "
                                         r"expected shape \(4,\) float32"):
        fill_template(other, jax.tree.leaves(loaded), "x", "opt_state", fix="f")


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

    from distillery.train.jax_device import describe_jax_device, jax_device

    assert jax_device().platform == jax.default_backend()
    info = describe_jax_device()
    assert info["platform"] == jax.default_backend()
    assert info["n_devices"] == len(jax.devices())
    assert info["dtype"] in ("float32", "float64")
