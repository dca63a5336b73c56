"""Who am I in a data-parallel run: rank discovery, rank-tagged logs, fatal init errors.

Framework-free on purpose (no jax/torch import), so launchers and tests stay light. The JAX and
PyTorch specifics live in `data_parallel_jax` and `data_parallel_torch`.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TextIO

from distillery.errors import DistilleryError

# launcher variables, most specific first: torchrun / our spawner, then SLURM tasks
_RANK_VARS = (("RANK", "WORLD_SIZE", "LOCAL_RANK"),
              ("SLURM_PROCID", "SLURM_NTASKS", "SLURM_LOCALID"))


class DistributedInitError(DistilleryError):
    """Distributed start-up failed; the message says where, why and how to run on one device."""


@dataclass(frozen=True)
class ProcessInfo:
    """This process's place in a data-parallel run (rank 0 of 1 when run alone)."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def tag(self) -> str:
        return f"rank {self.rank}/{self.world_size}"


def _int_var(env: Mapping[str, str], name: str) -> int:
    value = env[name]
    try:
        return int(value)
    except ValueError:
        raise DistributedInitError(
            f"environment variable {name}={value!r}: expected an integer") from None


def process_info(env: Mapping[str, str] | None = None) -> ProcessInfo:
    """Rank, world size and local rank from the launcher's variables, else a single process."""
    env = os.environ if env is None else env
    for rank_var, size_var, local_var in _RANK_VARS:
        if size_var not in env:
            continue
        world_size = _int_var(env, size_var)
        rank = _int_var(env, rank_var) if rank_var in env else 0
        local_rank = _int_var(env, local_var) if local_var in env else rank
        if world_size < 1 or not 0 <= rank < world_size or local_rank < 0:
            raise DistributedInitError(
                f"{rank_var}={rank}, {size_var}={world_size}: expected 0 <= rank < world size "
                f"and world size >= 1; unset {size_var} to run as a single process")
        return ProcessInfo(rank, world_size, local_rank)
    return ProcessInfo()


def init_failure(backend: str, info: ProcessInfo, address: str, cause: BaseException
                 ) -> DistributedInitError:
    """The one fatal message for a failed process-group start (raise it `from cause`)."""
    return DistributedInitError(
        f"distributed initialisation failed ({info.tag}, backend {backend}, "
        f"rendezvous {address}): {type(cause).__name__}: {str(cause).strip().splitlines()[0]}; "
        "check that every rank was started and can reach the rendezvous address, "
        "or run a single process (unset WORLD_SIZE) to train on one device")


def rank_logger(info: ProcessInfo, name: str = "distillery.train", stream: TextIO | None = None
                ) -> logging.Logger:
    """A logger whose lines start with `[rank r/w]`, flushed line by line (StreamHandler does).

    Every rank writes to its stdout, the rule's log: ranks keep no files of their own.
    """
    logger = logging.getLogger(f"{name}.rank{info.rank}")
    for handler in logger.handlers:
        handler.close()
    logger.handlers.clear()
    handler = logging.StreamHandler(sys.stdout if stream is None else stream)
    handler.setFormatter(logging.Formatter(f"[{info.tag}] %(asctime)s %(message)s",
                                           datefmt="%H:%M:%S"))
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    return logger
