"""A per-ID payload model of normal CAN traffic, trained without attacks: what each ID's bytes
normally hold and how they change from one frame of the ID to the next. It scores a window by
its most surprising (ID, byte) statistic, so an attack it never saw still stands out when it
forges a payload.

Channels are the eight data bytes and the DLC. For every ID of the normal training windows and
every channel, two smoothed histograms over 0..255: the channel's value, and its change (mod
256) since the previous frame of the same ID in the window. A constant byte puts all its value
mass on one value, a rolling counter all its change mass on +1, a slowly varying signal its
change mass near 0 and spread by sensor noise.

A window's statistic per (ID, channel, value or change) is the G statistic of the window's own
distribution of that quantity against the histogram, sum_v c_v log(c_v / (n p_v)) over the
values v it takes c_v times in n frames: 0 when the window repeats the histogram, large when
its frames sit on values the histogram finds rare (a forged byte, a broken counter) and also
when they crowd onto one value where the histogram expects spread (a frozen signal). One more
statistic compares the window's ID counts with the IDs' shares in normal traffic (unknown IDs,
floods, a changed rate).

Each statistic is calibrated on the normal training windows by its upper tail: t = (G - q) / s,
with q its `tail_quantile` and s the mean excess over q (at least `min_tail_scale`), so that t
is in nats of tail surprise whatever the byte (an exponential tail above q). A window's score
is log(1 + e^t) of its largest t: positive (the fusion takes logs), about t above 0.

Windows are scored on their own frames, as the graph models see them: a window scores the same
alone or in a batch.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from distillery.can.settings import PayloadSettings
from distillery.data.schemas import CAN_BYTES
from distillery.errors import InputError
from distillery.train.tensor_files import load_tensors, save_tensors

LEVELS = 256  # values of a byte; the DLC (0..8) uses the first nine
CHANNELS = (*CAN_BYTES, "dlc")
KINDS = ("value", "change")
FORMAT = "distillery-can-payload"
CHUNK = 2048  # windows per block of statistics (bounds memory on long captures)
# consecutive training windows per run of one calibration half: overlapping windows share
# frames, so the halves alternate in runs rather than window by window
FOLD_RUN = 16


@dataclass(frozen=True)
class Frames:
    """The frame columns the payload model reads: `can_id` (n,), `channels` (n, 9) int64 (the
    eight data bytes, then the DLC)."""

    can_id: np.ndarray
    channels: np.ndarray

    @classmethod
    def from_table(cls, table: pd.DataFrame) -> Frames:
        channels = np.concatenate([table[list(CAN_BYTES)].to_numpy(np.int64),
                                   table["dlc"].to_numpy(np.int64)[:, None]], 1)
        return cls(table["can_id"].to_numpy(np.int64), channels)


def window_rows(windows: pd.DataFrame, frame: np.ndarray, size: int, source: str | Path
                ) -> np.ndarray:
    """(n_windows, size) rows of the frame table (its `frame` numbers, ascending) of each
    window of the windows table: a window holds `size` consecutive frames."""
    first = np.searchsorted(frame, windows["first_frame"].to_numpy())
    rows = first[:, None] + np.arange(size)[None, :]
    if rows.size and (rows.max() >= len(frame) or np.any(
            frame[rows[:, -1]] != windows["last_frame"].to_numpy())):
        raise InputError(source, "first_frame/last_frame", f"windows that are not runs of "
                         f"{size} consecutive frames of the frame table",
                         "the windows table of these frames", fix="rerun the can_graphs rule")
    return rows


def _previous(slot: np.ndarray) -> np.ndarray:
    """Per frame of (windows, size) ID slots, the position of the previous frame of the same
    ID in its window; -1 for an ID's first frame."""
    order = np.argsort(slot, axis=1, kind="stable")  # stable: time order within each ID
    ranked = np.take_along_axis(slot, order, 1)
    first = np.ones(slot.shape, dtype=bool)
    first[:, 1:] = ranked[:, 1:] != ranked[:, :-1]
    previous = np.where(first, -1, np.roll(order, 1, axis=1))
    out = np.empty_like(previous)
    np.put_along_axis(out, order, previous, 1)
    return out


def _quantities(slot: np.ndarray, channels: np.ndarray) -> np.ndarray:
    """(windows, size, channel, kind) values and changes since the ID's previous frame in the
    window (-1: none)."""
    previous = _previous(slot)
    before = np.take_along_axis(channels, np.maximum(previous, 0)[..., None], 1)
    change = np.where(previous[..., None] >= 0, (channels - before) % LEVELS, -1)
    return np.stack([channels, change], -1)


def _g_statistics(group: np.ndarray, value: np.ndarray, log_prob: np.ndarray,
                  n_groups: int, levels: int = LEVELS) -> np.ndarray:
    """G statistic per group: sum_v c_v (log(c_v / n) - log p_v) over the values v in
    0..levels-1 of each group's items (n of them); `log_prob[i]` is the model's log p of item
    i's value in its group."""
    pairs, first, counts = np.unique(group * levels + value, return_index=True,
                                     return_counts=True)
    owner = pairs // levels
    totals = np.bincount(owner, weights=counts, minlength=n_groups)
    terms = counts * (np.log(counts / totals[owner]) - log_prob[first])
    return np.bincount(owner, weights=terms, minlength=n_groups)


def _histograms(frames: Frames, rows: np.ndarray, ids: np.ndarray, alpha: float
                ) -> tuple[np.ndarray, np.ndarray]:
    """Smoothed log-probabilities of every channel's value and change per ID of `ids`
    (S, 9, 2, 256), and of the IDs' shares of the frames (S + 1,: the last for unseen IDs),
    counted over the windows `rows`."""
    slot = np.searchsorted(ids, frames.can_id[rows])
    quantity = _quantities(slot, frames.channels[rows])
    n_slots, n_channels, n_kinds = len(ids), len(CHANNELS), len(KINDS)
    cell = (slot[..., None, None] * n_channels + np.arange(n_channels)[:, None]) * n_kinds \
        + np.arange(n_kinds)
    seen = quantity >= 0
    shape = (n_slots, n_channels, n_kinds, LEVELS)
    counts = np.bincount(cell[seen] * LEVELS + quantity[seen],
                         minlength=np.prod(shape)).reshape(shape)
    log_prob = np.log((counts + alpha) / (counts.sum(-1, keepdims=True) + LEVELS * alpha))
    frames_per_id = np.bincount(slot.ravel(), minlength=n_slots + 1)
    id_log_prob = np.log((frames_per_id + alpha) / (frames_per_id.sum() + (n_slots + 1) * alpha))
    return log_prob, id_log_prob


def score_of(surprise: np.ndarray) -> np.ndarray:
    """(n_windows,) log(1 + e^t) of each window's largest calibrated statistic t of
    `surprise` (n_windows, T)."""
    return np.logaddexp(0.0, surprise.max(1))


@dataclass(frozen=True)
class PayloadModel:
    """`ids` (S,) sorted IDs of the normal training traffic; `log_prob` (S, 9, 2, 256)
    smoothed log-probabilities of each channel's value and change; `id_log_prob` (S + 1,) the
    IDs' shares of the frames, the last for any unseen ID; `tail_start` and `tail_scale` (T,)
    the calibration of the T = S * 9 * 2 + 1 statistics (the ID statistic last)."""

    ids: np.ndarray
    log_prob: np.ndarray
    id_log_prob: np.ndarray
    tail_start: np.ndarray
    tail_scale: np.ndarray

    @property
    def n_parameters(self) -> int:
        return sum(a.size for a in (self.log_prob, self.id_log_prob, self.tail_start,
                                    self.tail_scale))

    @classmethod
    def fit(cls, frames: Frames, rows: np.ndarray, settings: PayloadSettings) -> PayloadModel:
        """Histograms and calibration from the windows `rows` (n_windows, size) of normal
        traffic. The calibration is cross-fitted: the statistics of each half of the windows
        (alternating runs of `FOLD_RUN`) come from the histograms of the other half, as unseen
        windows meet the final histograms of all of them; in-sample statistics would be too
        small for the bytes whose histograms fit their own windows closely (a byte that takes
        many values), which would then dominate the score of unseen normal windows."""
        if len(rows) == 0:
            raise ValueError("the payload model needs at least one normal training window")
        ids = np.unique(frames.can_id[rows])
        fold = (np.arange(len(rows)) // FOLD_RUN) % 2
        everything = np.ones(len(rows), dtype=bool)
        # (measured, fitted on): a single run of windows has no other half and is measured
        # against its own histograms
        halves = [(fold == p, fold != p) for p in (0, 1)] if fold.any() else \
            [(everything, everything)]
        stats = np.zeros((len(rows), len(ids) * len(CHANNELS) * len(KINDS) + 1))
        for measured, fitted in halves:
            other = cls(ids, *_histograms(frames, rows[fitted], ids, settings.smoothing),
                        np.zeros(0), np.zeros(0))
            stats[measured] = other.statistics(frames, rows[measured])
        start = np.quantile(stats, settings.tail_quantile, axis=0)
        above = stats > start
        excess = np.where(above, stats - start, 0.0).sum(0) / np.maximum(above.sum(0), 1)
        scale = np.maximum(excess, settings.min_tail_scale)
        return cls(ids, *_histograms(frames, rows, ids, settings.smoothing), start, scale)

    def statistics(self, frames: Frames, rows: np.ndarray) -> np.ndarray:
        """(n_windows, T) G statistics of the windows `rows` (n_windows, size)."""
        blocks = [self._block(frames, rows[i:i + CHUNK]) for i in range(0, len(rows), CHUNK)]
        return np.concatenate(blocks) if blocks else np.zeros((0, self.log_prob[..., 0].size + 1))

    def _block(self, frames: Frames, rows: np.ndarray) -> np.ndarray:
        n_windows, size = rows.shape
        n_slots, n_channels, n_kinds = self.log_prob.shape[:3]
        can_id = frames.can_id[rows]
        slot = np.minimum(np.searchsorted(self.ids, can_id), n_slots - 1)
        slot = np.where(self.ids[slot] == can_id, slot, n_slots)  # n_slots: an unseen ID
        per_window = n_slots * n_channels * n_kinds
        known = slot < n_slots
        quantity = _quantities(slot, frames.channels[rows])
        term = (slot[..., None, None] * n_channels + np.arange(n_channels)[:, None]) \
            * n_kinds + np.arange(n_kinds)
        group = np.arange(n_windows)[:, None, None, None] * per_window + term
        keep = known[..., None, None] & (quantity >= 0)
        cell = np.minimum(slot, n_slots - 1)[..., None, None] * n_channels * n_kinds \
            + np.arange(n_channels)[:, None] * n_kinds + np.arange(n_kinds)
        log_prob = self.log_prob.reshape(-1, LEVELS)[cell[keep], quantity[keep]]
        payload = _g_statistics(group[keep], quantity[keep], log_prob,
                                n_windows * per_window).reshape(n_windows, per_window)
        window = np.repeat(np.arange(n_windows), size)
        id_stat = _g_statistics(window, slot.ravel(), self.id_log_prob[slot.ravel()],
                                n_windows, levels=n_slots + 1)
        return np.concatenate([payload, id_stat[:, None]], 1)

    def surprise(self, frames: Frames, rows: np.ndarray) -> np.ndarray:
        """(n_windows, T) calibrated statistics t = (G - q) / s."""
        return (self.statistics(frames, rows) - self.tail_start) / self.tail_scale

    def score(self, frames: Frames, rows: np.ndarray) -> np.ndarray:
        """(n_windows,) log(1 + e^t) of each window's largest calibrated statistic."""
        return score_of(self.surprise(frames, rows))

    def id_surprise(self, surprise: np.ndarray) -> np.ndarray:
        """(n_windows, S) the largest calibrated statistic over the channels (values and
        changes) of each known ID, from `surprise` (n_windows, T): whose payloads surprise."""
        return surprise[:, :-1].reshape(len(surprise), len(self.ids), -1).max(2)

    def save(self, path: str | Path, metadata: dict[str, Any]) -> None:
        save_tensors(path, {
            "ids": torch.from_numpy(self.ids), "log_prob": torch.from_numpy(self.log_prob),
            "id_log_prob": torch.from_numpy(self.id_log_prob),
            "tail_start": torch.from_numpy(self.tail_start),
            "tail_scale": torch.from_numpy(self.tail_scale)},
            {"format": FORMAT, "channels": list(CHANNELS), "kinds": list(KINDS), **metadata})

    @classmethod
    def load(cls, path: str | Path) -> tuple[PayloadModel, dict[str, Any]]:
        """The model and the metadata it was saved with."""
        expected, fix = "a payload model written by can_train_payload", \
            "rerun the can_train_payload rule"
        tensors, metadata = load_tensors(path, expected, fix)
        names = ("ids", "log_prob", "id_log_prob", "tail_start", "tail_scale")
        if metadata.get("format") != FORMAT or set(names) - set(tensors):
            raise InputError(path, "file", f"a {metadata.get('format')!r} file", expected,
                             fix=fix)
        model = cls(*(tensors[name].numpy() for name in names))
        return model, metadata
