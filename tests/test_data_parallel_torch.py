"""PyTorch DDP over two CPU processes (Gloo) equals single-process training; failed starts."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest
import torch

from distillery.train.data_parallel_torch import init_torch_data_parallel, launch_data_parallel
from distillery.train.distributed import DistributedInitError, ProcessInfo, process_info

STEPS = 4


def make_data() -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(8, 3, generator=generator, dtype=torch.float64)
    return x, x @ torch.tensor([1.0, -2.0, 0.5], dtype=torch.float64)


def train(out_dir: str) -> None:
    """A training loop as a rank runs it: its share of each batch, gradients averaged by DDP."""
    dp = init_torch_data_parallel(timeout_s=60)
    torch.manual_seed(0)
    model = dp.wrap(torch.nn.Linear(3, 1, dtype=torch.float64))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    x, y = make_data()
    dataset = torch.utils.data.TensorDataset(x, y)
    sampler = dp.sampler(dataset, shuffle=False)
    indices = list(sampler) if sampler is not None else list(range(len(dataset)))
    for _ in range(STEPS):
        optimizer.zero_grad()
        loss = torch.mean((model(x[indices]).squeeze(-1) - y[indices]) ** 2)
        loss.backward()
        optimizer.step()
    mean_loss = dp.mean(loss.detach())
    weights = [p.detach().flatten().tolist() for p in model.parameters()]
    rank = process_info().rank
    Path(out_dir, f"rank{rank}.json").write_text(json.dumps(
        {"weights": weights, "indices": indices, "world": dp.info.world_size,
         "mean_loss": float(mean_loss), "local_loss": float(loss.detach())}))
    dp.close()


def test_two_ranks_train_exactly_like_one_process(tmp_path):
    (tmp_path / "ddp").mkdir()
    (tmp_path / "single").mkdir()
    launch_data_parallel(train, str(tmp_path / "ddp"), n_processes=2)
    launch_data_parallel(train, str(tmp_path / "single"), n_processes=1)
    ranks = [json.loads((tmp_path / "ddp" / f"rank{r}.json").read_text()) for r in (0, 1)]
    single = json.loads((tmp_path / "single" / "rank0.json").read_text())
    assert [r["world"] for r in ranks] == [2, 2] and single["world"] == 1
    assert sorted(ranks[0]["indices"] + ranks[1]["indices"]) == list(range(8))
    assert not set(ranks[0]["indices"]) & set(ranks[1]["indices"])
    # equal halves: the mean of the two shard gradients is the full-batch gradient
    for rank in ranks:
        for ours, theirs in zip(rank["weights"], single["weights"], strict=True):
            assert ours == pytest.approx(theirs, rel=1e-12, abs=1e-12)
    assert ranks[0]["mean_loss"] == pytest.approx(
        (ranks[0]["local_loss"] + ranks[1]["local_loss"]) / 2, rel=1e-12)


def test_single_process_needs_no_process_group():
    dp = init_torch_data_parallel(ProcessInfo())
    model = torch.nn.Linear(2, 1)
    assert not dp.distributed and dp.device.type in ("cpu", "cuda")
    assert dp.wrap(model) is model and dp.sampler([1, 2, 3]) is None
    assert torch.equal(dp.mean(torch.tensor(3.0)), torch.tensor(3.0))


def test_unreachable_rendezvous_is_one_clear_fatal_error(monkeypatch):
    with socket.socket() as probe:          # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    monkeypatch.setenv("MASTER_ADDR", "127.0.0.1")
    monkeypatch.setenv("MASTER_PORT", str(port))
    with pytest.raises(DistributedInitError) as error:
        init_torch_data_parallel(ProcessInfo(1, 2, 1), timeout_s=2)
    message = str(error.value)
    assert message.startswith(f"distributed initialisation failed (rank 1/2, backend gloo, "
                              f"rendezvous 127.0.0.1:{port}): ")
    assert message.endswith("run a single process (unset WORLD_SIZE) to train on one device")
    assert "\n" not in message
