"""Data parallelism for JAX with `jax.sharding`: one mesh over every device of the run.

One process drives all devices of its node: the batch's leading axis is split across a 1-D
device mesh and parameters/optimizer state are replicated, so a jitted step computes the global
(all-device) sums and gradients without change. Several launched processes (SLURM tasks, or
RANK/WORLD_SIZE with MASTER_ADDR/MASTER_PORT) join one run through `jax.distributed`: the mesh
then spans every process's devices and each process feeds only its own devices' rows.
With one device in one process nothing is placed or sharded: the run is the plain one.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import jax
import numpy as np
from jax.experimental import multihost_utils
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from distillery.errors import ConfigError
from distillery.train.distributed import ProcessInfo, init_failure, process_info

AXIS = "data"


@dataclass(frozen=True)
class JaxDataParallel:
    """A 1-D mesh over the devices that share each batch."""

    mesh: Mesh

    @property
    def n_devices(self) -> int:
        return self.mesh.devices.size

    @property
    def n_processes(self) -> int:
        return len({d.process_index for d in self.mesh.devices.flat})

    @property
    def platform(self) -> str:
        return self.mesh.devices.flat[0].platform

    @property
    def active(self) -> bool:
        """Whether arrays are placed on the mesh at all (more than one device)."""
        return self.n_devices > 1

    @property
    def is_main(self) -> bool:
        """The process that writes checkpoints and outputs."""
        return jax.process_index() == 0

    def describe(self) -> str:
        """`data parallel over 2 cpu devices (2 processes)`, or `1 cpu device` when alone."""
        if not self.active:
            return f"1 {self.platform} device"
        procs = f" ({self.n_processes} processes)" if self.n_processes > 1 else ""
        return f"data parallel over {self.n_devices} {self.platform} devices{procs}"

    def batch_size_for(self, requested: int) -> int:
        """The largest multiple of the device count not above `requested` (at least one each)."""
        return max(requested // self.n_devices, 1) * self.n_devices

    def padded_size(self, batch_size: int) -> int:
        """The smallest multiple of the device count not below `batch_size` (rows to pad to)."""
        return -(-batch_size // self.n_devices) * self.n_devices

    def _place(self, leaf: Any, spec: PartitionSpec) -> jax.Array:
        sharding = NamedSharding(self.mesh, spec)
        if self.n_processes == 1:
            return jax.device_put(leaf, sharding)
        # every process holds the whole host array; each supplies the rows of its own devices
        host = np.asarray(leaf)
        return jax.make_array_from_callback(host.shape, sharding, lambda index: host[index])

    def shard_batch(self, batch: Any, batch_size: int | None = None) -> Any:
        """Split the arrays of a batch pytree along their first axis across the devices.

        With `batch_size`, only arrays whose first axis has that length are split (per-frame
        data) and the others are replicated (e.g. flat tables shared by the whole batch).
        """
        def put(leaf: Any) -> jax.Array:
            shape = np.shape(leaf)
            if batch_size is not None and (not shape or shape[0] != batch_size):
                return self._place(leaf, PartitionSpec())
            if not shape or shape[0] % self.n_devices:
                raise ConfigError(
                    f"batch array of shape {shape} cannot be split over {self.n_devices} "
                    f"devices: the batch size must be a multiple of {self.n_devices} "
                    "(see JaxDataParallel.padded_size)")
            return self._place(leaf, PartitionSpec(AXIS))

        return jax.tree.map(put, batch)

    def replicate(self, tree: Any) -> Any:
        """Place a pytree (parameters, optimizer state) in full on every device."""
        return jax.tree.map(lambda leaf: self._place(leaf, PartitionSpec()), tree)

    def barrier(self, name: str) -> None:
        """Wait until every process got here (no-op in one process)."""
        if self.n_processes > 1:
            multihost_utils.sync_global_devices(name)


def init_jax_distributed(info: ProcessInfo, env: Mapping[str, str] | None = None,
                         timeout_s: int = 300) -> None:
    """Join the processes of a multi-process run (no-op for one process or when joined).

    The coordinator is MASTER_ADDR:MASTER_PORT when set (torchrun-style launchers, tests),
    else JAX's own SLURM detection (rank 0's node). CPU processes talk over Gloo.
    """
    if info.world_size == 1 or jax.distributed.is_initialized():
        return
    env = os.environ if env is None else env
    kwargs: dict[str, Any] = {"initialization_timeout": timeout_s}
    address = "SLURM auto-detection"
    if "MASTER_ADDR" in env and "MASTER_PORT" in env:
        address = f"{env['MASTER_ADDR']}:{env['MASTER_PORT']}"
        kwargs.update(coordinator_address=address, num_processes=info.world_size,
                      process_id=info.rank)
    jax.config.update("jax_cpu_collectives_implementation", "gloo")
    try:
        jax.distributed.initialize(**kwargs)
    except Exception as exc:
        raise init_failure("jax.distributed", info, address, exc) from exc


def jax_data_parallel(devices: Sequence[jax.Device] | None = None,
                      max_devices: int | None = None) -> JaxDataParallel:
    """A mesh over all devices of the default backend (GPUs when present, else CPU).

    One process: its local devices. Several launched processes: `jax.distributed` joins them
    and the mesh spans the devices of all of them.
    """
    info = process_info()
    init_jax_distributed(info)
    if devices is None:
        devices = jax.devices() if info.world_size > 1 else jax.local_devices()
    devices = list(devices)
    if max_devices is not None:
        devices = devices[:max(max_devices, 1)]
    return JaxDataParallel(Mesh(np.array(devices), (AXIS,)))
