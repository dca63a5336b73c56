"""A classifier written by the can_export_model rule, loaded for scoring windows one at a time:
TorchScript or ONNX (by the file's suffix), with the detector metadata the export carries, and
the payload model the export names, fused with the classifier's score (`PayloadFusion`).

Needs torch (and onnxruntime for ONNX) but not PyTorch Geometric, so a detector starts fast.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from distillery.can.fusion import EPS
from distillery.can.metrics import softmax
from distillery.can.payload import PayloadModel
from distillery.errors import InputError, reason

METADATA_KEY = "distillery.json"
METADATA_FORMAT = "distillery-can-detector"
_REQUIRED = ("classes", "features", "feature_mean", "windows", "thresholds")
_EXPECTED = "a classifier exported by the can_export_model rule (model.torchscript or model.onnx)"
_FIX = "export it again with the can_export_model rule (older exports carry no detector metadata)"


def attack_score(logits: np.ndarray) -> np.ndarray:
    """1 - p(normal) per row, as the sum of the attack probabilities (no cancellation near
    p(normal) = 1): the anomaly score of evaluation and of the export's thresholds."""
    return softmax(logits.astype(np.float64))[:, 1:].sum(1)


class ExportedClassifier:
    """`logits`, `score` and per-node `contributions` of one window graph given as arrays:
    node features `x` (n, F) float32, `edge_index` (2, E) int64, `edge_attr` (E, 1) float32."""

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        self.onnx = Path(path).suffix == ".onnx"
        try:
            text = self._load_onnx() if self.onnx else self._load_torchscript()
        except (OSError, RuntimeError, ValueError) as exc:
            raise InputError(self.path, "file", f"no loadable model ({reason(exc)})", _EXPECTED,
                             fix="check the path") from None
        try:
            meta = json.loads(text) if text else {}
        except json.JSONDecodeError:
            meta = {}
        if meta.get("format") != METADATA_FORMAT or any(k not in meta for k in _REQUIRED):
            raise InputError(self.path, METADATA_KEY, "no detector metadata", _EXPECTED, fix=_FIX)
        self.meta: dict[str, Any] = meta
        self.feature_mean = np.asarray(meta["feature_mean"], dtype=np.float32)

    def _load_torchscript(self) -> str:
        extra = {METADATA_KEY: ""}
        self.module = torch.jit.load(self.path, map_location="cpu", _extra_files=extra)
        text = extra[METADATA_KEY]
        return text.decode() if isinstance(text, bytes) else text

    def _load_onnx(self) -> str:
        import onnxruntime  # only ONNX exports need the runtime

        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = options.inter_op_num_threads = torch.get_num_threads()
        try:
            self.session = onnxruntime.InferenceSession(self.path, options,
                                                        providers=["CPUExecutionProvider"])
        except Exception as exc:  # onnxruntime raises its own classes for unreadable files
            raise ValueError(reason(exc)) from None
        # inputs a model does not use (the MLP ignores the edges) are pruned from the graph
        self.inputs = [i.name for i in self.session.get_inputs()]
        return self.session.get_modelmeta().custom_metadata_map.get(METADATA_KEY, "")

    def logits(self, x: np.ndarray, edge_index: np.ndarray, edge_attr: np.ndarray
               ) -> np.ndarray:
        if self.onnx:
            feed = dict(zip(("x", "edge_index", "edge_attr"), (x, edge_index, edge_attr),
                            strict=True))
            return self.session.run(None, {k: feed[k] for k in self.inputs})[0]
        with torch.no_grad():
            return self.module(torch.from_numpy(x), torch.from_numpy(edge_index),
                               torch.from_numpy(edge_attr)).numpy()

    def score(self, x: np.ndarray, edge_index: np.ndarray, edge_attr: np.ndarray) -> float:
        return float(attack_score(self.logits(x, edge_index, edge_attr))[0])

    def contributions(self, x: np.ndarray, edge_index: np.ndarray, edge_attr: np.ndarray
                      ) -> np.ndarray:
        """How much each node (ID) raises the window's score over a node with the training
        mean features: gradient x (x - mean) summed over features for TorchScript (one
        backward pass), for ONNX (no gradients) the score change when the node's features
        are set to the mean (one model call per node)."""
        if self.onnx:
            base = self.score(x, edge_index, edge_attr)
            drops = []
            for i in range(len(x)):
                masked = x.copy()
                masked[i] = self.feature_mean
                drops.append(base - self.score(masked, edge_index, edge_attr))
            return np.asarray(drops)
        features = torch.from_numpy(x).requires_grad_(True)
        logits = self.module(features, torch.from_numpy(edge_index), torch.from_numpy(edge_attr))
        score = torch.softmax(logits.double(), 1)[0, 1:].sum()
        (grad,) = torch.autograd.grad(score, features)
        return (grad * (features.detach() - torch.from_numpy(self.feature_mean))).sum(1).numpy()


@dataclass(frozen=True)
class PayloadFusion:
    """The payload model of an export and how its score joins the classifier's (the
    export's `payload` block, see `distillery.can.export.payload_fusion_metadata`): each
    score as a z-value (log score standardised on normal validation windows), the fused score
    b + w_student z_student + w_payload z_payload (a logistic-regression logit), alarms above
    the block's thresholds."""

    model: PayloadModel
    mean: np.ndarray
    std: np.ndarray
    coef: np.ndarray
    thresholds: dict[float, float]

    @classmethod
    def load(cls, exported: ExportedClassifier, path: str | Path | None = None
             ) -> PayloadFusion | None:
        """The export's payload fusion (None: the export has none); the payload model is read
        from `path`, by default from the file the export names (relative to its folder),
        whose digest must be the one recorded at export."""
        block = exported.meta.get("payload")
        if block is None:
            return None
        file = Path(exported.path).parent / block["file"] if path is None else Path(path)
        try:
            digest = hashlib.sha256(file.read_bytes()).hexdigest()
        except OSError as exc:
            raise InputError(file, "file", f"no readable payload model ({reason(exc)})",
                             f"the payload model that {exported.path} was exported with",
                             fix="export again, or pass --payload PATH or --no-payload") from None
        if digest != block["sha256"]:
            raise InputError(file, "file", "another payload model than the export's",
                             f"the payload model that {exported.path} was exported with "
                             f"(sha256 {block['sha256'][:12]}...)",
                             fix="export the classifier and the payload model again together")
        model, _ = PayloadModel.load(file)
        return cls(model, np.asarray(block["z_mean"]), np.asarray(block["z_std"]),
                   np.asarray(block["coef"]),
                   {float(f): t for f, t in block["thresholds"].items()})

    def terms(self, student: np.ndarray, payload: np.ndarray) -> np.ndarray:
        """(n, 2) weighted z-values w z of the classifier's and the payload model's scores;
        the fused score is `coef[0]` plus their sum."""
        return fusion_terms(self.mean, self.std, self.coef, student, payload)


def fusion_terms(mean: np.ndarray, std: np.ndarray, coef: np.ndarray, student: np.ndarray,
                 payload: np.ndarray) -> np.ndarray:
    """(n, 2) weighted z-values w z of the classifier's and the payload model's scores (an
    export's `payload` block: `z_mean`, `z_std`, `coef`); the fused score is `coef[0]` plus
    their sum."""
    z = (np.log(np.stack([student, payload], 1) + EPS) - mean) / std
    return z * coef[1:]
