"""Training loop for PyTorch Geometric graph classifiers.

Warmup + decay schedule per step, gradient clipping, early stopping on the validation loss,
`latest`/`best` checkpoints that resume exactly (model, optimizer, schedule, RNG, history),
a per-epoch metrics table, one summary line per epoch and progress with an ETA.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch_geometric.data import Batch, Data
from torch_geometric.loader import DataLoader

from distillery.train.checkpoint import CheckpointManager
from distillery.train.data_parallel_torch import TorchDataParallel, init_torch_data_parallel
from distillery.train.early_stopping import EarlyStopping
from distillery.train.history import MetricsHistory, Progress, epoch_summary
from distillery.train.schedule import make_schedule
from distillery.train.settings import ScheduleSettings, TorchTrainSettings, run_seed
from distillery.train.torch_device import autocast_dtype

LossFn = Callable[[torch.Tensor, Batch], torch.Tensor]
MetricFn = Callable[[torch.Tensor, torch.Tensor], Mapping[str, float]]
# epoch (from 1) -> indices of the training graphs that epoch trains on
Curriculum = Callable[[int], Sequence[int]]


@dataclass
class TrainResult:
    """The model holding the best (lowest validation loss) weights and how the run went."""

    model: nn.Module
    history: list[dict[str, Any]]
    best_epoch: int
    epochs_run: int
    stopped_early: bool


def _autocast(device: torch.device, amp: bool) -> contextlib.AbstractContextManager:
    dtype = autocast_dtype(device, amp)
    if dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(device.type, dtype=dtype)


@torch.no_grad()
def predict_logits(model: nn.Module, graphs: list[Data], batch_size: int,
                   device: torch.device, amp: bool = False) -> torch.Tensor:
    """Logits (n_graphs, n_classes) on the CPU, in the order of `graphs`, in eval mode."""
    model.eval()
    out = []
    for batch in DataLoader(graphs, batch_size=batch_size, shuffle=False):
        with _autocast(device, amp):
            out.append(model(batch.to(device)).float().cpu())
    return torch.cat(out)


def _rng_state() -> dict[str, Any]:
    state = {"torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def _set_rng_state(state: Mapping[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def _cpu(state: Any) -> Any:
    """Tensors copied to the CPU so that a checkpoint loads without the GPU it was written on.

    Copied on the CPU too: `.cpu()` of a CPU tensor is the tensor itself, so a best-epoch
    snapshot would follow the weights as training goes on."""
    if isinstance(state, torch.Tensor):
        return state.detach().to("cpu", copy=True)
    if isinstance(state, dict):
        return {k: _cpu(v) for k, v in state.items()}
    if isinstance(state, list | tuple):
        return type(state)(_cpu(v) for v in state)
    return state


def _lr_lambda(cfg: TorchTrainSettings, epoch_steps: Sequence[int]) -> Callable[[int], float]:
    """The schedule over the run's steps, `epoch_steps[e]` of them in epoch e + 1 (fewer in the
    early epochs of a curriculum)."""
    sched = cfg.schedule
    # warmup epochs beyond the run count at the last epoch's size, as they always have
    warmup = (sum(epoch_steps[:sched.warmup_epochs])
              + max(sched.warmup_epochs - len(epoch_steps), 0) * epoch_steps[-1])
    # peak 1.0: LambdaLR multiplies the optimizer's base rate by this factor
    return make_schedule(ScheduleSettings(
        kind=sched.kind, lr=1.0, warmup_steps=warmup, final_lr_ratio=sched.final_lr_ratio,
        decay_rate=sched.decay_rate, step_size=sched.step_size, gamma=sched.gamma,
    ), max(sum(epoch_steps) - warmup, 1))


def _evaluate(model: nn.Module, graphs: list[Data], loss_fn: LossFn, batch_size: int,
              device: torch.device, amp: bool) -> tuple[float, torch.Tensor, torch.Tensor]:
    """Mean loss, logits and labels over a set, in eval mode."""
    model.eval()
    total, logits, labels = 0.0, [], []
    with torch.no_grad():
        for batch in DataLoader(graphs, batch_size=batch_size, shuffle=False):
            batch = batch.to(device)
            with _autocast(device, amp):
                out = model(batch).float()
            total += float(loss_fn(out, batch)) * batch.num_graphs
            logits.append(out.cpu())
            labels.append(batch.y.cpu())
    return total / max(len(graphs), 1), torch.cat(logits), torch.cat(labels)


def _rank_batches(train_set: list[Data], order: torch.Generator, batch_size: int,
                  dp: TorchDataParallel) -> list[tuple[Batch, float, int]]:
    """This rank's share of every batch of an epoch, with the factor on its mean loss.

    The batches are the single-process loader's (the same loader, over indices), each dealt out
    round-robin, and a share's mean loss is scaled by world * share / batch: DDP's average of
    the ranks' gradients is then the gradient of the batch mean, as in one process. A rank
    whose share is empty (a last batch smaller than the world) runs one graph at factor 0, so
    that every rank takes part in the gradient exchange.
    """
    world, rank = dp.info.world_size, dp.info.rank
    out = []
    for rows in DataLoader(range(len(train_set)), batch_size=batch_size, shuffle=True,
                           generator=order):
        rows = rows.tolist()
        share = rows[rank::world]
        factor = world * len(share) / len(rows)
        out.append((Batch.from_data_list([train_set[i] for i in share or rows[:1]]), factor,
                    len(share)))
    return out


def train_classifier(
    model: nn.Module, train_set: list[Data], val_set: list[Data], cfg: TorchTrainSettings,
    loss_fn: LossFn, device: torch.device, checkpoint_dir: str | Path, history_path: str | Path,
    run_key: str, metric_fn: MetricFn | None = None, label: str = "train",
    on_epoch_end: Callable[[int], None] | None = None, curriculum: Curriculum | None = None,
) -> TrainResult:
    """Train `model` (already seeded and built) and return it holding its best weights.

    `loss_fn(logits, batch)` gives the training objective (also the validation loss);
    `metric_fn(logits, labels)` adds validation metrics to the table. A checkpoint whose
    `run_key` (a fingerprint of data and settings) matches is resumed; another is ignored.

    With a `curriculum`, epoch e trains on the graphs `curriculum(e)` (shuffled as the whole
    set would be); the table and the epoch lines get their share as `curriculum_fraction`,
    the schedule counts the steps the epochs really take, and early stopping waits for the
    first epoch on the whole set.

    Started as one of several ranks (WORLD_SIZE, e.g. by `relaunch_ranks`), it trains with
    DistributedDataParallel on this rank's device: each batch is dealt out over the ranks,
    every rank validates on the whole validation set (so all stop together) and only rank 0
    writes checkpoints, the history table and log lines.
    """
    dp = init_torch_data_parallel()
    if dp.distributed:
        device = dp.device
    say = print if dp.info.is_main else _silent
    model.to(device)
    net = dp.wrap(model)
    amp, batch_size, epochs = bool(cfg.amp), int(cfg.batch_size), int(cfg.epochs)
    sizes = [len(train_set) if curriculum is None else len(curriculum(e))
             for e in range(1, epochs + 1)]
    epoch_steps = [-(-n // batch_size) for n in sizes]
    steps_before = [sum(epoch_steps[:e]) for e in range(epochs)]
    # early stopping may end the run only once it has trained on every graph
    full_from = next((e for e, n in enumerate(sizes, 1) if n == len(train_set)), epochs)
    optimizer = torch.optim.AdamW(model.parameters(), lr=float(cfg.lr),
                                  weight_decay=float(cfg.weight_decay))
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, _lr_lambda(cfg, epoch_steps))
    stopper = EarlyStopping(int(cfg.patience), float(cfg.min_delta))
    history = MetricsHistory(history_path if dp.info.is_main else None)
    checkpoints = CheckpointManager(checkpoint_dir, every=int(cfg.checkpoint_every),
                                    tensors=True)
    torch.manual_seed(run_seed(cfg.seed))
    start, best_epoch, best_state = 0, 0, _cpu(model.state_dict())
    saved = checkpoints.load_latest()
    if saved is not None and saved[1]["run_key"] == run_key:
        start, state = saved
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        stopper.load_state_dict(state["early_stopping"])
        history.load_state_dict(state["history"])
        _set_rng_state(state["rng"])
        best_epoch, best_state = state["best_epoch"], state["best_model"]
        say(f"{label}: resuming after epoch {start} from {checkpoints.path('latest')}")
    elif saved is not None:
        say(f"{label}: ignoring checkpoint of other settings in {checkpoint_dir}")
    if dp.distributed:
        say(f"{label}: data parallel over {dp.info.world_size} {device.type} ranks "
            f"({dp.backend})")

    progress = Progress(sum(epoch_steps), label, float(cfg.progress_interval))
    epoch = start
    while epoch < epochs and not (stopper.should_stop and epoch >= full_from):
        epoch += 1
        tic = time.perf_counter()
        model.train()
        graphs = train_set if curriculum is None else [train_set[i] for i in curriculum(epoch)]
        # the shuffle order depends only on seed and epoch, so a resumed run sees the same one
        order = torch.Generator().manual_seed(run_seed(cfg.seed) * 100_003 + epoch)
        batches = (_rank_batches(graphs, order, batch_size, dp) if dp.distributed else
                   ((b, 1.0, b.num_graphs) for b in DataLoader(
                       graphs, batch_size=batch_size, shuffle=True, generator=order)))
        train_loss = 0.0
        for step, (batch, factor, n_graphs) in enumerate(batches):
            batch = batch.to(device)
            optimizer.zero_grad(set_to_none=True)
            with _autocast(device, amp):
                loss = loss_fn(net(batch).float(), batch)
            (loss * factor if dp.distributed else loss).backward()
            if cfg.clip_norm:
                nn.utils.clip_grad_norm_(model.parameters(), float(cfg.clip_norm))
            optimizer.step()
            scheduler.step()
            train_loss += float(loss.detach()) * n_graphs
            if dp.info.is_main:
                progress.update(steps_before[epoch - 1] + step + 1)
        if dp.distributed:  # the sum over all ranks' shares
            train_loss = float(dp.mean(torch.tensor(train_loss, dtype=torch.float64))
                               ) * dp.info.world_size
        val_loss, logits, labels = _evaluate(model, val_set, loss_fn, batch_size, device, amp)
        val = {"loss": val_loss, **(metric_fn(logits, labels) if metric_fn else {})}
        train = {"loss": train_loss / len(graphs)}
        share = ({} if curriculum is None else
                 {"curriculum_fraction": len(graphs) / len(train_set)})
        lr = scheduler.get_last_lr()[0]
        is_best = stopper.update(val_loss)
        if is_best:
            best_epoch, best_state = epoch, _cpu(model.state_dict())
        seconds = time.perf_counter() - tic
        history.append({"epoch": epoch, "lr": lr, "train_loss": train["loss"],
                        **{f"val_{k}": v for k, v in val.items()}, **share,
                        "seconds": seconds})
        say(epoch_summary(epoch, train, val, lr=lr, **share, s=seconds), flush=True)
        if dp.info.is_main:
            checkpoints.save({
                "run_key": run_key, "model": _cpu(model.state_dict()),
                "optimizer": _cpu(optimizer.state_dict()), "scheduler": scheduler.state_dict(),
                "early_stopping": stopper.state_dict(), "history": history.state_dict(),
                "rng": _rng_state(), "best_epoch": best_epoch, "best_model": best_state,
            }, epoch, is_best=is_best)
        if on_epoch_end is not None:
            on_epoch_end(epoch)
    if stopper.should_stop:
        say(f"{label}: early stop after epoch {epoch} (best epoch {best_epoch})")
    history.write()
    dp.close()
    model.load_state_dict(best_state)
    return TrainResult(model.eval(), history.state_dict(), best_epoch, epoch, stopper.should_stop)


def _silent(*_: Any, **__: Any) -> None:
    """The output of ranks other than rank 0 (which alone reports)."""
