"""PyTorch DDP over two CPU processes (Gloo) equals single-process training, for a toy model
and for the classifier training loop; rank relaunch, failed starts, unmet `device: cuda`."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest
import torch

from distillery.errors import ConfigError, DistilleryError
from distillery.train.data_parallel_torch import (
    init_torch_data_parallel,
    launch_data_parallel,
    relaunch_ranks,
)
from distillery.train.distributed import DistributedInitError, ProcessInfo, process_info
from distillery.train.torch_device import torch_device

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


def fit_rank(out_dir: str) -> None:
    """The classifier training loop as one rank (or the only process) runs it."""
    import contextlib

    from distillery.can.settings import ARCH
    from distillery.can.training import fit_classifier
    from distillery.train.settings import TorchTrainSettings
    from tests.test_can_training import META, TINY_MLP, _graphs

    rank = process_info().rank
    cfg = TorchTrainSettings.model_validate({
        "epochs": 3, "batch_size": 4, "lr": 1e-2, "patience": 0, "seed": 3,
        "class_weighting": "none", "checkpoint_every": 1,
        "schedule": {"kind": "cosine", "warmup_epochs": 1}})
    graphs = _graphs(9)  # batches of 4, 4 and 1: in the last, rank 1's share is empty
    with open(Path(out_dir, f"log{rank}.txt"), "w") as log, contextlib.redirect_stdout(log):
        result = fit_classifier(ARCH.validate_python(TINY_MLP), cfg, META, graphs, graphs,
                                torch.device("cpu"), Path(out_dir, "ckpt"),
                                Path(out_dir, "history.csv"))
    Path(out_dir, f"rank{rank}.json").write_text(json.dumps({
        "weights": [p.detach().flatten().tolist() for p in result.model.parameters()],
        "train_loss": [row["train_loss"] for row in result.history],
        "val_loss": [row["val_loss"] for row in result.history]}))


def test_classifier_training_over_two_gloo_ranks_equals_one_process(tmp_path):
    """Tolerance: float32 weights and losses agree to 1e-5 (relative) + 1e-6 (absolute)."""
    (tmp_path / "ddp").mkdir()
    (tmp_path / "single").mkdir()
    launch_data_parallel(fit_rank, str(tmp_path / "ddp"), n_processes=2)
    launch_data_parallel(fit_rank, str(tmp_path / "single"), n_processes=1)
    single = json.loads((tmp_path / "single" / "rank0.json").read_text())
    for rank in (0, 1):
        got = json.loads((tmp_path / "ddp" / f"rank{rank}.json").read_text())
        for key in ("train_loss", "val_loss"):
            assert got[key] == pytest.approx(single[key], rel=1e-5, abs=1e-6)
        for ours, theirs in zip(got["weights"], single["weights"], strict=True):
            assert ours == pytest.approx(theirs, rel=1e-5, abs=1e-6)
    log0 = (tmp_path / "ddp" / "log0.txt").read_text()
    assert "data parallel over 2 cpu ranks (gloo)" in log0 and "epoch 3" in log0
    assert (tmp_path / "ddp" / "log1.txt").read_text() == ""  # rank 1 reports nothing
    assert (tmp_path / "ddp" / "history.csv").exists()
    assert sorted(p.name for p in (tmp_path / "ddp" / "ckpt").glob("latest*")) == sorted(
        p.name for p in (tmp_path / "single" / "ckpt").glob("latest*"))


RANK_SCRIPT = """
import os, sys
from pathlib import Path
Path(sys.argv[1], "rank" + os.environ["RANK"]).write_text(os.environ["WORLD_SIZE"])
print("hello from", os.environ["RANK"], os.environ["DISTILLERY_RELAUNCHED_RANK"])
sys.exit(int(os.environ["RANK"]) * int(sys.argv[2]))
"""


def test_a_script_relaunches_itself_once_per_rank(tmp_path, monkeypatch, capsys):
    for name in ("RANK", "WORLD_SIZE", "SLURM_NTASKS"):
        monkeypatch.delenv(name, raising=False)
    script = tmp_path / "job.py"
    script.write_text(RANK_SCRIPT)
    assert not relaunch_ranks(1, [str(script), str(tmp_path), "0"])
    assert relaunch_ranks(2, [str(script), str(tmp_path), "0"])
    assert [(tmp_path / f"rank{r}").read_text() for r in (0, 1)] == ["2", "2"]
    lines = capsys.readouterr().out.splitlines()  # the ranks' output, tagged, in the job's log
    assert sorted(lines) == ["[rank 0/2] hello from 0 1", "[rank 1/2] hello from 1 1"]
    with pytest.raises(DistilleryError, match=r"^data-parallel training failed: rank 1/2 "
                                              r"exited with status 3 .*set device: cpu"):
        relaunch_ranks(2, [str(script), str(tmp_path), "3"])
    monkeypatch.setenv("WORLD_SIZE", "2")  # already a rank: nothing to launch
    assert not relaunch_ranks(2, [str(script), str(tmp_path), "0"])


def test_cuda_that_cannot_be_met_is_a_one_line_error(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(ConfigError) as error:
        torch_device("cuda")
    assert str(error.value).startswith("classifier.device: found cuda, but PyTorch sees no "
                                       "CUDA device")
    assert "\n" not in str(error.value)
    assert torch_device("auto").type == torch_device("cpu").type == "cpu"
