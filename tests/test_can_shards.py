"""Window graphs sharded to disk and read back a shard at a time (`ShardedGraphs`)."""

from __future__ import annotations

import itertools

import numpy as np
import torch
from torch_geometric.loader import DataLoader

import distillery.can.dataset as dataset
from distillery.can.dataset import ShardedGraphs, collated, load_graphs, save_graphs
from distillery.can.graph import window_graphs


def _shards(tmp_path, sizes=(5, 7, 4)):
    """Shards of random windows; graph k of all has label k, to tell them apart."""
    rng = np.random.default_rng(0)
    paths, label = [], 0
    for s, n in enumerate(sizes):
        frames = n * 10
        can_id = rng.choice([0x10, 0x20, 0x30, 0x40], frames)
        stamps = np.cumsum(rng.uniform(1e-3, 2e-3, frames))
        data = rng.integers(0, 256, (frames, 8))
        rows = np.arange(n)[:, None] * 10 + np.arange(10)
        graphs = window_graphs(can_id, stamps, np.full(frames, 8), data, rows)
        paths.append(tmp_path / f"shard{s}.npz")
        save_graphs(paths[-1], collated(graphs, np.arange(label, label + n)))
        label += n
    return paths


def _labels(graphs):
    return [int(g.y) for g in graphs]


def test_a_pass_reads_every_graph_once_a_shard_at_a_time(tmp_path, monkeypatch):
    paths = _shards(tmp_path)
    data = ShardedGraphs(paths, seed=1, sizes=(5, 7, 4))
    assert len(data) == 16
    first, second = _labels(data), _labels(data)
    assert sorted(first) == sorted(second) == list(range(16))
    assert first != second  # reshuffled every pass
    assert _labels(ShardedGraphs(paths, seed=1)) == first  # seeded
    # graphs of one shard come together, shuffled within it
    shard_of = np.repeat([0, 1, 2], [5, 7, 4])
    runs = [k for k, _ in itertools.groupby(shard_of[first])]
    assert sorted(runs) == [0, 1, 2]
    assert _labels(ShardedGraphs(paths, shuffle=False)) == list(range(16))
    # the graphs are those saved: same features as the shard read whole
    whole = {int(g.y): g for p in paths for g in load_graphs(p)}
    for g in ShardedGraphs(paths, seed=3):
        torch.testing.assert_close(g.x, whole[int(g.y)].x)
        torch.testing.assert_close(g.edge_index, whole[int(g.y)].edge_index)
    # a shard is loaded only when the pass reaches it
    loads = []
    monkeypatch.setattr(dataset, "load_graphs", lambda p: loads.append(p) or load_graphs(p))
    it = iter(ShardedGraphs(paths, shuffle=False))
    [next(it) for _ in range(5)]
    assert loads == [paths[0]]
    next(it)
    assert loads == paths[:2]


def test_a_loader_batches_sharded_graphs(tmp_path):
    paths = _shards(tmp_path)
    batches = list(DataLoader(ShardedGraphs(paths, seed=0), batch_size=6))
    assert [b.num_graphs for b in batches] == [6, 6, 4]
    assert sorted(torch.cat([b.y for b in batches]).tolist()) == list(range(16))
