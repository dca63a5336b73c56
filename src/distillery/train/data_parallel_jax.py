"""Data parallelism for JAX over every device of one node with `jax.sharding`.

One process drives all local devices: the batch's leading axis is split across a 1-D device
mesh and parameters/optimizer state are replicated. A jitted step on such inputs computes the
global (all-device) mean loss and gradients, so the training step itself needs no change.
With one device (a CPU-only machine) everything runs unchanged on that device.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from distillery.errors import ConfigError
from distillery.train.distributed import DistributedInitError, process_info

AXIS = "data"


@dataclass(frozen=True)
class JaxDataParallel:
    """A 1-D mesh over the devices that share each batch."""

    mesh: Mesh

    @property
    def n_devices(self) -> int:
        return self.mesh.devices.size

    @property
    def platform(self) -> str:
        return self.mesh.devices.flat[0].platform

    def batch_size_for(self, requested: int) -> int:
        """The largest multiple of the device count not above `requested` (at least one each)."""
        return max(requested // self.n_devices, 1) * self.n_devices

    def shard_batch(self, batch: Any, batch_size: int | None = None) -> Any:
        """Split the arrays of a batch pytree along their first axis across the devices.

        With `batch_size`, only arrays whose first axis has that length are split (per-frame
        data) and the others are replicated (e.g. flat tables shared by the whole batch).
        """
        split = NamedSharding(self.mesh, PartitionSpec(AXIS))
        whole = NamedSharding(self.mesh, PartitionSpec())

        def put(leaf: Any) -> jax.Array:
            shape = np.shape(leaf)
            if batch_size is not None and (not shape or shape[0] != batch_size):
                return jax.device_put(leaf, whole)
            if not shape or shape[0] % self.n_devices:
                raise ConfigError(
                    f"batch array of shape {shape} cannot be split over {self.n_devices} "
                    f"devices: the batch size must be a multiple of {self.n_devices} "
                    "(see JaxDataParallel.batch_size_for)")
            return jax.device_put(leaf, split)

        return jax.tree.map(put, batch)

    def replicate(self, tree: Any) -> Any:
        """Place a pytree (parameters, optimizer state) in full on every device."""
        return jax.device_put(tree, NamedSharding(self.mesh, PartitionSpec()))


def jax_data_parallel(devices: Sequence[jax.Device] | None = None,
                      max_devices: int | None = None) -> JaxDataParallel:
    """All local devices of the default backend (GPUs when present, else CPU), in a mesh.

    One process drives them all; several launched ranks would each train their own copy, so
    that is refused with `DistributedInitError`.
    """
    info = process_info()
    if info.world_size > 1:
        raise DistributedInitError(
            f"JAX training was started as {info.tag}: it runs as one process per node that "
            "drives all of the node's devices; submit it with a single task (no srun --ntasks, "
            "no torchrun)")
    devices = list(jax.local_devices() if devices is None else devices)
    if max_devices is not None:
        devices = devices[:max(max_devices, 1)]
    return JaxDataParallel(Mesh(np.array(devices), (AXIS,)))
