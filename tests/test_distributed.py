"""Rank discovery from launcher variables, rank-tagged unbuffered logs, the fatal init message."""

from __future__ import annotations

import io
import subprocess
import sys
import time
from pathlib import Path

import pytest

from distillery.train.distributed import (
    DistributedInitError,
    ProcessInfo,
    init_failure,
    process_info,
    rank_logger,
)


@pytest.mark.parametrize(("env", "expected"), [
    ({}, ProcessInfo(0, 1, 0)),
    ({"RANK": "3", "WORLD_SIZE": "4", "LOCAL_RANK": "1"}, ProcessInfo(3, 4, 1)),
    ({"SLURM_PROCID": "2", "SLURM_NTASKS": "4", "SLURM_LOCALID": "0"}, ProcessInfo(2, 4, 0)),
    # torchrun's variables win over the SLURM task that started torchrun
    ({"RANK": "1", "WORLD_SIZE": "2", "SLURM_PROCID": "0", "SLURM_NTASKS": "1"},
     ProcessInfo(1, 2, 1)),
])
def test_process_info_reads_the_launcher(env, expected):
    assert process_info(env) == expected


@pytest.mark.parametrize(("env", "message"), [
    ({"RANK": "2", "WORLD_SIZE": "2"}, "RANK=2, WORLD_SIZE=2: expected 0 <= rank < world size"),
    ({"RANK": "0", "WORLD_SIZE": "0"}, "world size >= 1"),
    ({"SLURM_PROCID": "x", "SLURM_NTASKS": "2"}, "SLURM_PROCID='x': expected an integer"),
])
def test_inconsistent_launcher_variables_are_fatal(env, message):
    with pytest.raises(DistributedInitError, match=message.replace("(", r"\(")):
        process_info(env)


def test_rank_logger_tags_lines():
    stream = io.StringIO()
    log = rank_logger(ProcessInfo(1, 2, 1), stream=stream)
    log.info("epoch 1 loss 0.5")
    log.info("epoch 2 loss 0.25")
    lines = stream.getvalue().splitlines()
    assert [line.split(" ", 3)[-1] for line in lines] == ["epoch 1 loss 0.5", "epoch 2 loss 0.25"]
    assert all(line.startswith("[rank 1/2] ") for line in lines)


def test_rank_log_lines_arrive_while_the_process_still_runs():
    """Written to a pipe, each line is visible at once (not held in a buffer until exit)."""
    code = ("import time; from distillery.train.distributed import ProcessInfo, rank_logger\n"
            "rank_logger(ProcessInfo(0, 2, 0)).info('ready'); time.sleep(30)")
    child = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        start = time.monotonic()
        line = child.stdout.readline()
        assert line.startswith("[rank 0/2] ") and line.rstrip().endswith("ready")
        assert time.monotonic() - start < 20 and child.poll() is None
    finally:
        child.kill()
        child.wait()


def test_init_failure_names_rank_backend_address_and_the_way_out():
    cause = RuntimeError("connect() timed out.\nmore detail")
    error = init_failure("nccl", ProcessInfo(1, 4, 1), "10.0.0.5:29500", cause)
    assert str(error) == (
        "distributed initialisation failed (rank 1/4, backend nccl, rendezvous 10.0.0.5:29500): "
        "RuntimeError: connect() timed out.; check that every rank was started and can reach "
        "the rendezvous address, or run a single process (unset WORLD_SIZE) to train on one "
        "device")
    assert "\n" not in str(error)


def test_module_stays_free_of_frameworks():
    """Launchers import it before choosing JAX or PyTorch; it must not pull either in."""
    code = ("import sys, distillery.train.distributed\n"
            "print(sorted(m for m in ('jax', 'torch') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=Path(__file__).parent)
    assert out.stdout.strip() == "[]"
