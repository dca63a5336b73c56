"""JAX data parallelism equals one-device training: two forced host devices in one process,
and two processes joined by `jax.distributed` on localhost, both through the force-field loop.

Tolerance: float32 parameters agree to 1e-6 absolute (+1e-5 relative) and epoch losses to 1e-6
relative; the sums over a split batch are only added in another order."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]

# Runs in a fresh interpreter: XLA reads the device count once, before jax initialises.
SCRIPT = r"""
import json
import jax, jax.numpy as jnp, numpy as np
from distillery.errors import ConfigError
from distillery.train.data_parallel_jax import jax_data_parallel

rng = np.random.default_rng(0)
x = rng.normal(size=(8, 3))
y = x @ np.array([1.0, -2.0, 0.5]) + 0.1 * rng.normal(size=8)

@jax.jit
def step(w, batch):
    loss = lambda w: jnp.mean((batch["x"] @ w - batch["y"]) ** 2)
    return w - 0.1 * jax.grad(loss)(w)

def train(dp):
    w = dp.replicate(jnp.zeros(3))
    batch = dp.shard_batch({"x": x, "y": y})
    for _ in range(5):
        w = step(w, batch)
    return w, batch

two, one = jax_data_parallel(), jax_data_parallel(max_devices=1)
w2, batch = train(two)
w1, _ = train(one)
mixed = two.shard_batch({"x": x, "table": np.arange(5.0)}, batch_size=8)
try:
    two.shard_batch({"x": x[:7]})
    error = ""
except ConfigError as exc:
    error = str(exc)
print(json.dumps({
    "devices": two.n_devices, "platform": two.platform,
    "x_shards": [s.data.shape[0] for s in batch["x"].addressable_shards],
    "w_devices": len(w2.sharding.device_set), "w2": np.asarray(w2).tolist(),
    "w1": np.asarray(w1).tolist(), "error": error,
    "batch_sizes": [two.batch_size_for(b) for b in (1, 7, 8)],
    "mixed": [len(mixed[k].addressable_shards[0].data) for k in ("x", "table")],
}))
"""


def reference_weights(steps: int = 5) -> np.ndarray:
    """Plain gradient descent on the mean squared error: grad = 2/n X^T (Xw - y)."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(8, 3))
    y = x @ np.array([1.0, -2.0, 0.5]) + 0.1 * rng.normal(size=8)
    w = np.zeros(3)
    for _ in range(steps):
        w = w - 0.1 * 2 / len(y) * x.T @ (x @ w - y)
    return w


def test_two_devices_train_like_one_and_like_the_analytic_gradient():
    env = {**os.environ, "XLA_FLAGS": "--xla_force_host_platform_device_count=2",
           "JAX_PLATFORMS": "cpu"}
    out = subprocess.run([sys.executable, "-c", SCRIPT], env=env, capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-3000:]
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert (result["devices"], result["platform"]) == (2, "cpu")
    assert result["x_shards"] == [4, 4]          # each device holds half the batch
    assert result["w_devices"] == 2              # parameters stay replicated
    np.testing.assert_allclose(result["w2"], result["w1"], rtol=1e-6)
    np.testing.assert_allclose(result["w2"], reference_weights(), rtol=1e-5)
    assert "cannot be split over 2 devices: the batch size must be a multiple of 2" in \
        result["error"]
    assert result["batch_sizes"] == [2, 6, 8]
    assert result["mixed"] == [4, 5]             # per-frame rows split, the shared table whole


# A small force-field fit with a batch of 3 (padded to 4 on two devices) that prints its
# parameters, epoch losses, device record and log as JSON; argv: checkpoint dir, device limit.
FIT = r"""
import json, sys
import jax, numpy as np
from distillery.potentials.model import ForceField
from distillery.train import potential_loop
from distillery.train.data_parallel_jax import jax_data_parallel
from tests.ff_toy import toy_frames

limit = int(sys.argv[2]) if len(sys.argv) > 2 else None
potential_loop.jax_data_parallel = lambda: jax_data_parallel(max_devices=limit)
cfg = {"epochs": 2, "batch_size": 3, "checkpoint_every": 1, "progress_interval": 1e9,
       "schedule": {"kind": "cosine", "lr": 5e-3, "warmup_steps": 2, "decay_steps": 20}}
frames, logs = toy_frames(10, seed=0), []
result = potential_loop.fit(ForceField({"kind": "schnet", "features": 8, "n_layers": 1, "n_rbf": 4,
                                 "cutoff": 3.5}),
                     frames.subset(range(8)), frames.subset(range(8, 10)), cfg, sys.argv[1],
                     log=logs.append)
print(json.dumps({"params": [np.asarray(x).tolist() for x in jax.tree.leaves(result.params)],
                  "loss": [r["train_loss"] for r in result.history], "log": logs,
                  "main": result.is_main, "info": result.info}))
"""
LAUNCH_VARS = ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT", "SLURM_NTASKS",
               "SLURM_PROCID", "SLURM_LOCALID", "XLA_FLAGS")


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in LAUNCH_VARS}
    return {**env, "JAX_PLATFORMS": "cpu", "PYTHONPATH": str(ROOT), **extra}


def _fit(process: subprocess.Popen) -> dict:
    stdout, stderr = process.communicate(timeout=300)
    assert process.returncode == 0, stderr[-3000:]
    return json.loads(stdout.strip().splitlines()[-1])


def _start(args: list[str], env: dict[str, str]) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", FIT, *args], env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def assert_same_fit(got: dict, expected: dict) -> None:
    for ours, theirs in zip(got["params"], expected["params"], strict=True):
        np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(got["loss"], expected["loss"], rtol=1e-6)


@pytest.fixture(scope="module")
def fits(tmp_path_factory) -> dict[str, dict]:
    """The same fit on one device, and on two forced host devices of one process."""
    tmp = tmp_path_factory.mktemp("fits")
    two_env = _env(XLA_FLAGS="--xla_force_host_platform_device_count=2")
    runs = {"one": _start([str(tmp / "one"), "1"], two_env),
            "two": _start([str(tmp / "two")], two_env)}
    return {name: _fit(process) for name, process in runs.items()}


def test_force_field_fit_over_two_devices_equals_one_device(fits):
    one, two = fits["one"], fits["two"]
    assert (two["info"]["n_devices"], two["info"]["padded_batch"]) == (2, 4)
    assert (one["info"]["n_devices"], one["info"]["padded_batch"]) == (1, 3)
    assert two["info"]["data_parallel"] == "data parallel over 2 cpu devices"
    assert "data parallel over 2 cpu devices, 8 frames, batch 3 x 1" in two["log"][0]
    assert "1 cpu device, 8 frames" in one["log"][0]
    assert_same_fit(two, one)


def test_two_processes_on_localhost_fit_like_one_device(fits, tmp_path):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = str(probe.getsockname()[1])
    ranks = [_start([str(tmp_path / "ckpt")], _env(RANK=str(r), WORLD_SIZE="2",
                                                   MASTER_ADDR="127.0.0.1", MASTER_PORT=port))
             for r in (0, 1)]
    main, other = (_fit(process) for process in ranks)
    for rank in (main, other):
        assert rank["info"]["data_parallel"] == "data parallel over 2 cpu devices (2 processes)"
        assert_same_fit(rank, fits["one"])
    # only rank 0 reports and writes: its log and checkpoints, none from rank 1
    assert (main["main"], other["main"]) == (True, False)
    assert main["log"] and not other["log"]
    assert (tmp_path / "ckpt" / "history.csv").exists()
