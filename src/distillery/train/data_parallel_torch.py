"""Data parallelism for PyTorch: DistributedDataParallel with one process per device of a node.

`launch_data_parallel(fn, ...)` starts one process per visible GPU (or runs `fn` in this
process when there is one device, or when a launcher such as torchrun or `srun --ntasks` has
already started the ranks); inside `fn`, `init_torch_data_parallel()` joins the process group
and picks this rank's device. With a single process no process group is created at all.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, TextIO

import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import Dataset, DistributedSampler

from distillery.errors import DistilleryError
from distillery.train.distributed import ProcessInfo, init_failure, process_info


@dataclass(frozen=True)
class TorchDataParallel:
    """This rank's device and process group (`backend` None: a single process, no group)."""

    info: ProcessInfo
    device: torch.device
    backend: str | None

    @property
    def distributed(self) -> bool:
        return self.backend is not None

    def wrap(self, model: torch.nn.Module) -> torch.nn.Module:
        """Move the model to this rank's device; DDP averages its gradients across ranks."""
        model = model.to(self.device)
        if not self.distributed:
            return model
        device_ids = [self.device.index] if self.device.type == "cuda" else None
        return DistributedDataParallel(model, device_ids=device_ids)

    def sampler(self, dataset: Dataset, shuffle: bool = True, seed: int = 0
                ) -> DistributedSampler | None:
        """Each rank's disjoint share of the dataset (None when single: use a plain loader)."""
        if not self.distributed:
            return None
        return DistributedSampler(dataset, num_replicas=self.info.world_size,
                                  rank=self.info.rank, shuffle=shuffle, seed=seed)

    def mean(self, value: torch.Tensor) -> torch.Tensor:
        """The mean of a metric over all ranks (unchanged in a single process)."""
        if not self.distributed:
            return value
        total = value.detach().clone().to(self.device)
        dist.all_reduce(total, op=dist.ReduceOp.SUM)
        return total / self.info.world_size

    def close(self) -> None:
        if self.distributed and dist.is_initialized():
            dist.destroy_process_group()


def init_torch_data_parallel(info: ProcessInfo | None = None, backend: str | None = None,
                             timeout_s: float = 300.0) -> TorchDataParallel:
    """Join the process group of this rank (NCCL on GPUs, Gloo on CPU), or run alone.

    A failed start raises `DistributedInitError` naming rank, backend and rendezvous address.
    """
    info = process_info() if info is None else info
    if torch.cuda.is_available():
        device = torch.device("cuda", info.local_rank % torch.cuda.device_count())
        torch.cuda.set_device(device)
    else:
        device = torch.device("cpu")
    if info.world_size == 1:
        return TorchDataParallel(info, device, None)
    backend = backend or ("nccl" if device.type == "cuda" else "gloo")
    address = ":".join(os.environ.get(name, f"<{name} unset>")
                       for name in ("MASTER_ADDR", "MASTER_PORT"))
    try:
        dist.init_process_group(backend, rank=info.rank, world_size=info.world_size,
                                timeout=timedelta(seconds=timeout_s))
    except Exception as exc:
        raise init_failure(backend, info, address, exc) from exc
    return TorchDataParallel(info, device, backend)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _rank_main(rank: int, world_size: int, port: int, fn: Callable[..., Any],
               args: tuple) -> None:
    os.environ.update(RANK=str(rank), WORLD_SIZE=str(world_size), LOCAL_RANK=str(rank),
                      MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), PYTHONUNBUFFERED="1")
    fn(*args)


def launch_data_parallel(fn: Callable[..., Any], *args: Any,
                         n_processes: int | None = None) -> None:
    """Run `fn(*args)` once per device of this node (one rank each), or here when one device.

    `fn` must be importable (a module-level function) because ranks are fresh processes.
    """
    n = n_processes or max(torch.cuda.device_count(), 1)
    if n == 1 or process_info().world_size > 1:
        fn(*args)
        return
    mp.start_processes(_rank_main, args=(n, _free_port(), fn, args), nprocs=n, join=True,
                       start_method="spawn")


def gpu_ranks(prefer: str = "auto") -> int:
    """How many data-parallel ranks a job with device setting `prefer` runs: one per visible
    GPU (`cpu`, or no GPU: one)."""
    return 1 if prefer == "cpu" else max(torch.cuda.device_count(), 1)


RELAUNCHED = "DISTILLERY_RELAUNCHED_RANK"  # set in the ranks that `relaunch_ranks` starts


def launched_rank() -> bool:
    """Whether this process is a rank started by `relaunch_ranks` (its launcher keeps the log
    and the job's records; the rank only trains and, as rank 0, writes the outputs)."""
    return RELAUNCHED in os.environ


def _forward(rank: int, world: int, stream: TextIO) -> None:
    for line in stream:
        print(f"[rank {rank}/{world}] {line}", end="", flush=True)


def relaunch_ranks(n_processes: int, argv: list[str] | None = None) -> bool:
    """Run this script again as `n_processes` ranks on localhost (like torchrun) and wait.

    True when the ranks ran (the caller then stops: rank 0 wrote the outputs); False when
    there is nothing to launch (one rank, or this process already is a rank). The ranks'
    output reaches this process's stdout (the job's log) tagged `[rank r/w]`; a failed rank
    stops the others and raises one line naming its exit status.
    """
    if n_processes <= 1 or process_info().world_size > 1:
        return False
    port = str(_free_port())
    argv = list(sys.argv if argv is None else argv)
    ranks = [subprocess.Popen([sys.executable, *argv], env={
        **os.environ, "RANK": str(r), "WORLD_SIZE": str(n_processes), "LOCAL_RANK": str(r),
        "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": port, "PYTHONUNBUFFERED": "1",
        RELAUNCHED: "1"}, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        for r in range(n_processes)]
    readers = [threading.Thread(target=_forward, args=(r, n_processes, rank.stdout))
               for r, rank in enumerate(ranks)]
    for reader in readers:
        reader.start()
    # a failed rank stops the others, which would otherwise wait for it until their timeout
    while any(rank.poll() is None for rank in ranks):
        if any(rank.returncode for rank in ranks):
            for rank in ranks:
                if rank.poll() is None:
                    rank.terminate()
        time.sleep(0.2)
    for reader in readers:
        reader.join()
    failed = [(r, rank.returncode) for r, rank in enumerate(ranks) if rank.returncode]
    if failed:
        raise DistilleryError(
            f"data-parallel training failed: rank {failed[0][0]}/{n_processes} exited with "
            f"status {failed[0][1]} (see its lines above); set device: cpu to train in a "
            "single process")
    return True
