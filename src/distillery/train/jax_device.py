"""Which JAX device trains: the accelerator when JAX sees one, else the CPU."""

from __future__ import annotations

import os
from typing import Any

import jax

CACHE_VARIABLE = "DISTILLERY_JAX_CACHE"


def jax_device() -> jax.Device:
    """The first GPU/TPU device if any, otherwise the first CPU device."""
    for backend in ("gpu", "tpu"):
        try:
            devices = jax.devices(backend)
        except RuntimeError:
            continue
        if devices:
            return devices[0]
    return jax.devices("cpu")[0]


def describe_jax_device(device: jax.Device | None = None) -> dict[str, Any]:
    """What to record next to results: platform, device name, count and default float dtype."""
    device = jax_device() if device is None else device
    return {
        "framework": "jax",
        "platform": device.platform,
        "device": getattr(device, "device_kind", str(device)),
        "n_devices": len(jax.devices(device.platform)),
        "dtype": "float64" if jax.config.jax_enable_x64 else "float32",
    }


def enable_compilation_cache(directory: str) -> None:
    """Persist compiled XLA programs across runs (one compile per batch shape bucket) in
    `directory`, or in $DISTILLERY_JAX_CACHE when set (one cache shared by several runs)."""
    jax.config.update("jax_compilation_cache_dir", os.environ.get(CACHE_VARIABLE, str(directory)))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.5)
