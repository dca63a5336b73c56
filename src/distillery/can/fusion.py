"""Fusion of anomaly scores per window (the supervised GAT's first, then those of the detectors
trained on normal traffic only: the VGAE, the payload model), fitted on validation windows:
calibrated stacking and a DQN agent.

Both see the scores as z-values: log(score) standardised by the normal validation windows, so
that detectors whose raw scores live on unrelated scales are comparable.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from distillery.can.settings import FusionSettings
from distillery.errors import InputError
from distillery.train.tensor_files import load_tensors, save_tensors

EPS = 1e-12


@dataclass(frozen=True)
class ZScaler:
    """log(score) -> (log(score) - mean) / std per detector, fitted on normal windows."""

    mean: np.ndarray
    std: np.ndarray

    @classmethod
    def fit(cls, scores: np.ndarray, normal: np.ndarray) -> ZScaler:
        logs = np.log(scores[normal] + EPS)
        return cls(logs.mean(0), np.maximum(logs.std(0), 1e-6))

    def __call__(self, scores: np.ndarray) -> np.ndarray:
        return (np.log(scores + EPS) - self.mean) / self.std


def balanced_weights(attack: np.ndarray) -> np.ndarray:
    """n / (2 n_class) per window, so that both classes weigh the same in a fit."""
    n_attack = max(int(attack.sum()), 1)
    n_normal = max(int((~attack).sum()), 1)
    return np.where(attack, len(attack) / (2 * n_attack), len(attack) / (2 * n_normal))


def fit_stacking(z: np.ndarray, attack: np.ndarray, l2: float, iterations: int = 50
                 ) -> np.ndarray:
    """Class-balanced logistic regression p(attack | z) = sigmoid(b + w . z) by Newton's
    method, with the ridge penalty l2 |w|^2 / 2; returns [b, w...]. The fused score is its
    logit, a monotone map of the calibrated probability."""
    design = np.hstack([np.ones((len(z), 1)), z])
    weights = balanced_weights(attack)
    coef = np.zeros(design.shape[1])
    ridge = l2 * np.eye(len(coef))
    ridge[0, 0] = 0.0  # the intercept is not shrunk
    for _ in range(iterations):
        p = 1.0 / (1.0 + np.exp(-np.clip(design @ coef, -30, 30)))
        grad = design.T @ (weights * (p - attack)) + ridge @ coef
        hess = (design * (weights * p * (1 - p))[:, None]).T @ design + ridge
        step = np.linalg.solve(hess + 1e-9 * np.eye(len(coef)), grad)
        coef -= step
        if np.abs(step).max() < 1e-10:
            break
    return coef


def stacking_scores(coef: np.ndarray, z: np.ndarray) -> np.ndarray:
    return coef[0] + z @ coef[1:]


class QNetwork(nn.Module):
    """State (the detectors' z-values, clipped and scaled) -> one Q-value per fusion weight."""

    def __init__(self, hidden: int, actions: int, inputs: int = 2) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(inputs, hidden), nn.ReLU(), nn.Linear(hidden, hidden),
                                 nn.ReLU(), nn.Linear(hidden, actions))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z.clamp(-10.0, 10.0) / 10.0)


def mix_weights(actions: int) -> np.ndarray:
    """The weight of the first (supervised) detector for each action."""
    return np.linspace(0.0, 1.0, actions)


def mixed(z: np.ndarray, action: np.ndarray, actions: int) -> np.ndarray:
    """The first (supervised) z-value mixed with the largest of the others."""
    w = mix_weights(actions)[action]
    return w * z[:, 0] + (1.0 - w) * z[:, 1:].max(1)


def fit_dqn(z: np.ndarray, attack: np.ndarray, cfg: FusionSettings) -> QNetwork:
    """Train the Q-network on one-step episodes drawn from the windows: state z, action a
    picks the mix weight, the alarm is mix > `decision_z`, the reward +-1 for a right or
    wrong alarm times the class weight. With one step per episode the Q-target is the reward
    itself, so no target network or discounting is needed. Seeded and deterministic."""
    generator = torch.Generator().manual_seed(cfg.seed)
    torch.manual_seed(cfg.seed)
    q = QNetwork(cfg.hidden, cfg.actions, z.shape[1])
    optimizer = torch.optim.Adam(q.parameters(), lr=cfg.lr)
    states = torch.from_numpy(z).float()
    weights = balanced_weights(attack)
    start, end = cfg.epsilon
    for step in range(cfg.steps):
        idx = torch.randint(len(z), (cfg.batch_size,), generator=generator)
        with torch.no_grad():
            greedy = q(states[idx]).argmax(1)
        epsilon = start + (end - start) * step / max(cfg.steps - 1, 1)
        explore = torch.rand(cfg.batch_size, generator=generator) < epsilon
        random = torch.randint(cfg.actions, (cfg.batch_size,), generator=generator)
        action = torch.where(explore, random, greedy).numpy()
        picked = idx.numpy()
        alarm = mixed(z[picked], action, cfg.actions) > cfg.decision_z
        reward = np.where(alarm == attack[picked], 1.0, -1.0) * weights[picked]
        value = q(states[idx]).gather(1, torch.from_numpy(action)[:, None])[:, 0]
        loss = ((value - torch.from_numpy(reward).float()) ** 2).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return q.eval()


@torch.no_grad()
def dqn_scores(q: QNetwork, z: np.ndarray, actions: int) -> tuple[np.ndarray, np.ndarray]:
    """The greedy action per window and the mixed z-value it gives (the fused score)."""
    action = q(torch.from_numpy(z).float()).argmax(1).numpy()
    return mixed(z, action, actions), action


FUSION_FORMAT = "distillery-can-fusion"


@dataclass(frozen=True)
class FittedFusion:
    """The fusions as the can_scores rule saved them: the detectors they read (`inputs`, in
    order), the z-scaler, the stacking coefficients and the DQN agent."""

    inputs: list[str]
    scaler: ZScaler
    stacking: np.ndarray
    q: QNetwork
    actions: int

    @classmethod
    def load(cls, path: str | Path) -> FittedFusion:
        expected, fix = "fusions written by the can_scores rule", "rerun the can_scores rule"
        state, meta = load_tensors(path, expected, fix)
        if meta.get("format") != FUSION_FORMAT:
            raise InputError(path, "format", repr(meta.get("format")), expected, fix=fix)
        cfg = FusionSettings(**meta["dqn"])
        q = QNetwork(cfg.hidden, cfg.actions, len(meta["inputs"]))
        q.load_state_dict(state)
        return cls(list(meta["inputs"]), ZScaler(np.asarray(meta["z_mean"]),
                                                 np.asarray(meta["z_std"])),
                   np.asarray(meta["stacking"]), q.eval(), cfg.actions)

    def save(self, path: str | Path, dqn: Mapping[str, Any]) -> None:
        """Write the fusions with the DQN's settings (`FusionSettings` as a dict)."""
        save_tensors(path, self.q.state_dict(), {
            "format": FUSION_FORMAT, "inputs": self.inputs, "z_mean": self.scaler.mean.tolist(),
            "z_std": self.scaler.std.tolist(), "stacking": self.stacking.tolist(),
            "dqn": dict(dqn)})

    def __call__(self, scores: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        """The stacking and DQN scores of windows from their detectors' scores."""
        z = self.scaler(np.stack([scores[m] for m in self.inputs], 1))
        return {"stacking": stacking_scores(self.stacking, z),
                "dqn": dqn_scores(self.q, z, self.actions)[0]}
