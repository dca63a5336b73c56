"""Anomaly scores of every CAN model on the validation and test windows, plus the stacking and
DQN fusions of the teacher's and the VGAE's scores (fitted on validation windows)."""

import numpy as np
import pandas as pd
import torch

from distillery.can.dataset import load_graphs
from distillery.can.fusion import ZScaler, dqn_scores, fit_dqn, fit_stacking, stacking_scores
from distillery.can.models.build import load_classifier
from distillery.can.scores import anomaly_scores
from distillery.io import atomic_path, read_json
from distillery.train.tensor_files import save_tensors
from distillery.train.torch_device import torch_device
from distillery.workflow import run_script

FUSED = ("teacher", "vgae")  # the supervised GAT and the anomaly detector


def main(snakemake) -> None:
    torch.set_num_threads(snakemake.threads)
    p = snakemake.params
    classes = read_json(snakemake.input.meta)["classes"]
    device = torch_device(p.device)
    graphs = {split: load_graphs(snakemake.input[split]) for split in ("val", "test")}
    labels = {split: np.array([int(g.y) for g in gs]) for split, gs in graphs.items()}
    scores = {split: {} for split in graphs}
    for name, path in zip(p.models, snakemake.input.models, strict=True):
        model, _ = load_classifier(path)
        for split, gs in graphs.items():
            scores[split][name] = anomaly_scores(model, gs, p.batch_size, device)
    # the fusions learn from validation windows of the attacks seen in training only
    seen = ~np.isin(labels["val"], [classes.index(a) for a in p.held_out])
    pair = {split: np.stack([scores[split][m] for m in FUSED], 1) for split in graphs}
    attack = labels["val"][seen] > 0
    scaler = ZScaler.fit(pair["val"][seen], ~attack)
    z = {split: scaler(pair[split]) for split in graphs}
    coef = fit_stacking(z["val"][seen], attack)
    q = fit_dqn(z["val"][seen], attack, p.fusion)
    for split in graphs:
        scores[split]["stacking"] = stacking_scores(coef, z[split])
        scores[split]["dqn"], action = dqn_scores(q, z[split], p.fusion.actions)
        share = np.bincount(action, minlength=p.fusion.actions) / len(action)
        print(f"{split}: DQN actions (GAT weight 0 .. 1) {np.round(share, 3).tolist()}")
    print(f"stacking: intercept {coef[0]:.3f}, weights {coef[1:].round(3).tolist()} ({FUSED})")
    save_tensors(snakemake.output.fusion, q.state_dict(), {
        "format": "distillery-can-fusion", "inputs": list(FUSED),
        "z_mean": scaler.mean.tolist(), "z_std": scaler.std.tolist(),
        "stacking": coef.tolist(), "dqn": p.fusion.as_dict()})
    table = pd.concat([
        pd.DataFrame({"split": split, "window": np.arange(len(labels[split])),
                      "label": labels[split], "model": name, "score": values})
        for split in graphs for name, values in scores[split].items()], ignore_index=True)
    with atomic_path(snakemake.output.scores) as tmp:
        table.to_parquet(tmp, index=False)


run_script(main, snakemake)
