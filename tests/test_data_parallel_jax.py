"""JAX data parallelism on two forced host devices equals one-device and analytic training."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from distillery.train.data_parallel_jax import jax_data_parallel
from distillery.train.distributed import DistributedInitError

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


def test_several_launched_ranks_are_refused(monkeypatch):
    monkeypatch.setenv("SLURM_NTASKS", "2")
    monkeypatch.setenv("SLURM_PROCID", "1")
    with pytest.raises(DistributedInitError, match=r"started as rank 1/2: it runs as one process"):
        jax_data_parallel()
