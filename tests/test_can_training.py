"""Training loop: a tiny model overfits a tiny set, an interrupted run resumes exactly,
saved models reload, class weights and devices."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch_geometric.data import Data

from distillery.array_files import save_arrays
from distillery.can.dataset import build_all, load_graphs, save_graphs
from distillery.can.ids import ids_figures
from distillery.can.models.build import build_classifier, load_classifier, save_classifier
from distillery.can.scores import anomaly_scores
from distillery.can.settings import ARCH, KDSettings, WindowSettings
from distillery.can.training import class_weights, content_digest, fit_classifier, with_teacher
from distillery.data.can import combine_captures, read_can_csv
from distillery.data.generate.can_bus import simulate_capture, write_capture
from distillery.errors import ConfigError, InputError
from distillery.train.settings import TorchTrainSettings
from distillery.train.tensor_files import save_tensors
from distillery.train.torch_device import autocast_dtype, torch_device
from distillery.train.torch_loop import predict_logits
from tests.pickles import malicious_pickle, malicious_torch_file

N_FEATURES = 5
META = {"classes": ["normal", "dos"], "features": [f"f{i}" for i in range(N_FEATURES)],
        "feature_mean": [0.0] * N_FEATURES, "feature_std": [1.0] * N_FEATURES}
TINY_GAT = {"kind": "gat", "hidden": 8, "heads": 2, "layers": 2, "jk": "cat", "dropout": 0.2}
TINY_MLP = {"kind": "mlp", "hidden": 8, "layers": 1, "node_layers": 1}
CPU = torch.device("cpu")


def _graphs(n: int, seed: int = 0) -> list[Data]:
    """Ring graphs of 4-7 nodes; class 1 has one node with a shifted feature vector."""
    rng = np.random.default_rng(seed)
    graphs = []
    for i in range(n):
        nodes = int(rng.integers(4, 8))
        x = rng.normal(size=(nodes, N_FEATURES)).astype(np.float32)
        label = i % 2
        if label:
            x[rng.integers(nodes)] += 3.0
        ring = np.arange(nodes)
        edges = np.stack([ring, np.roll(ring, -1)])
        graphs.append(Data(x=torch.from_numpy(x), edge_index=torch.from_numpy(edges),
                           edge_attr=torch.full((nodes, 1), 1.0 / nodes),
                           y=torch.tensor([label])))
    return graphs


def _fit(tmp_path, arch, epochs, **kwargs):
    cfg = {"epochs": epochs, "batch_size": 4, "lr": 1e-2, "patience": 0, "seed": 3,
           "schedule": {"kind": "cosine", "warmup_epochs": 1}, **kwargs.pop("cfg", {})}
    graphs = kwargs.pop("graphs", _graphs(8))
    kd = kwargs.pop("kd", None)
    return fit_classifier(ARCH.validate_python(arch), TorchTrainSettings.model_validate(cfg),
                          META, graphs, graphs, CPU, tmp_path / "ckpt", tmp_path / "history.csv",
                          kd=None if kd is None else KDSettings(**kd), **kwargs)


def test_a_tiny_gat_overfits_a_tiny_set(tmp_path):
    graphs = _graphs(8)
    result = _fit(tmp_path, TINY_GAT, 40, graphs=graphs)
    logits = predict_logits(result.model, graphs, 8, CPU)
    assert (logits.argmax(1) == torch.cat([g.y for g in graphs])).all()
    assert result.history[-1]["train_loss"] < 0.1
    assert result.history[-1]["val_macro_f1"] == 1.0


@pytest.mark.parametrize(("alpha", "learns"), [(0.7, True), (0.0, False)])
def test_only_the_kd_term_carries_the_teachers_rule(tmp_path, alpha, learns):
    """Every training window is labelled normal, so the hard labels say nothing; a confident
    teacher that knows the rule (a shifted node means an attack) is the only source of it.
    With the KD term the student learns the rule and applies it to windows it never saw;
    with the KD term off (alpha 0) the same run learns only the constant label."""
    graphs = _graphs(16)
    teacher = torch.tensor([[4.0, -4.0] if int(g.y) == 0 else [-4.0, 4.0] for g in graphs])
    uninformative = with_teacher(graphs, teacher)
    for g in uninformative:
        g.y = torch.tensor([0])
    result = _fit(tmp_path, TINY_MLP, 10, graphs=uninformative,
                  kd={"temperature": 4.0, "alpha": alpha})
    unseen = _graphs(32, seed=1)
    accuracy = float((predict_logits(result.model, unseen, 8, CPU).argmax(1)
                      == torch.cat([g.y for g in unseen])).float().mean())
    if learns:
        assert accuracy >= 0.85
    else:
        assert accuracy == 0.5  # every unseen window called normal: half of them are


def test_a_tiny_detector_flags_a_dos_flood_it_has_not_seen(tmp_path):
    """The classifier claim on a known attack: a tiny MLP trained on one synthetic DoS
    capture, its alarm threshold set at 5% false positives on the normal windows of a second,
    detects most DoS windows of a third; chance would flag 5% of them."""
    splits = ("train", "val", "test")
    parts = []
    for seed, split in enumerate(splits):
        path = tmp_path / f"{split}.csv"
        write_capture(path, simulate_capture("dos", duration=4.0, n_bursts=3, seed=seed))
        parts.append(read_can_csv(path, "dos", split))
    table = combine_captures(parts, "captures")
    rows = {split: np.flatnonzero(table["capture"] == split) for split in splits}
    collated, windows, meta = build_all(table, rows, WindowSettings(), "captures")
    graphs = {}
    for split in splits:
        save_graphs(tmp_path / f"{split}.npz", collated[split])
        graphs[split] = load_graphs(tmp_path / f"{split}.npz")
    cfg = TorchTrainSettings.model_validate({"epochs": 3, "batch_size": 16, "lr": 1e-2,
                                             "patience": 0, "seed": 3})
    model = fit_classifier(ARCH.validate_python(TINY_MLP), cfg, meta, graphs["train"],
                           graphs["val"], CPU, tmp_path / "ckpt", tmp_path / "history.csv").model
    scores = {s: anomaly_scores(model, graphs[s], 64, CPU) for s in ("val", "test")}
    labels = {s: np.array([int(g.y) for g in graphs[s]]) for s in ("val", "test")}
    figures = ids_figures(scores["val"], labels["val"], scores["test"], labels["test"],
                          windows[windows["split"] == "test"].reset_index(drop=True),
                          meta["classes"], (0.05,))
    dos = figures["attacks"]["dos"]
    assert dos["n"] > 20 and (labels["test"] == 0).sum() > 20
    assert dos["detection_rate"]["0.05"] - figures["fpr"]["0.05"] >= 0.5
    assert dos["auroc"] >= 0.9


class _Interrupt(Exception):
    pass


def _stop_at(epoch):
    def callback(done):
        if done == epoch:
            raise _Interrupt
    return callback


def test_an_interrupted_run_resumes_exactly(tmp_path):
    straight = _fit(tmp_path / "a", TINY_GAT, 6)
    with pytest.raises(_Interrupt):
        _fit(tmp_path / "b", TINY_GAT, 6, on_epoch_end=_stop_at(3))
    resumed = _fit(tmp_path / "b", TINY_GAT, 6)
    for key, value in straight.model.state_dict().items():
        torch.testing.assert_close(resumed.model.state_dict()[key], value, rtol=0, atol=0)

    def without_time(rows):
        return [{k: v for k, v in r.items() if k != "seconds"} for r in rows]

    assert without_time(resumed.history) == without_time(straight.history)
    assert len((tmp_path / "b" / "history.csv").read_text().splitlines()) == 7


def test_a_checkpoint_of_other_settings_is_not_resumed(tmp_path, capsys):
    with pytest.raises(_Interrupt):
        _fit(tmp_path, TINY_MLP, 4, on_epoch_end=_stop_at(2))
    result = _fit(tmp_path, TINY_MLP, 4, cfg={"lr": 5e-3})
    assert [r["epoch"] for r in result.history] == [1, 2, 3, 4]
    assert "ignoring checkpoint of other settings" in capsys.readouterr().out


def test_saved_model_reloads_with_identical_outputs(tmp_path):
    model = build_classifier(TINY_GAT, N_FEATURES, 2, [0.5] * N_FEATURES, [2.0] * N_FEATURES)
    graphs = _graphs(4)
    before = predict_logits(model, graphs, 4, CPU)
    save_classifier(tmp_path / "m.safetensors", model, TINY_GAT, {"n_classes": 2})
    loaded, info = load_classifier(tmp_path / "m.safetensors")
    torch.testing.assert_close(predict_logits(loaded, graphs, 4, CPU), before)
    # a single un-batched window gives the same logits as inside a batch
    torch.testing.assert_close(loaded(graphs[1]), before[1:2], rtol=1e-5, atol=1e-5)
    assert info["n_classes"] == 2


def test_balanced_class_weights_and_bad_settings():
    weights = class_weights(np.array([0, 0, 0, 1]), 3, "balanced")
    torch.testing.assert_close(weights, torch.tensor([4 / 6, 4 / 2, 1.0]))
    assert class_weights(np.array([0, 1]), 2, "none") is None
    with pytest.raises(ConfigError, match="class_weighting"):
        class_weights(np.array([0, 1]), 2, "inverse")
    with pytest.raises(ConfigError, match="kind"):
        build_classifier({"kind": "gcn"}, 3, 2, [0.0] * 3, [1.0] * 3)
    with pytest.raises(ConfigError, match="multiple of heads"):
        build_classifier({"kind": "gat", "hidden": 6, "heads": 4}, 3, 2, [0.0] * 3, [1.0] * 3)


def test_cpu_fallback_trains_in_float32():
    assert torch_device("cpu").type == "cpu"
    assert autocast_dtype(torch.device("cpu")) is None
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert torch_device("auto").type == expected


def test_content_digest_depends_on_content_not_file_name(tmp_path):
    model = build_classifier(TINY_MLP, N_FEATURES, 2, [0.0] * N_FEATURES, [1.0] * N_FEATURES)
    for name in ("a", "b"):
        save_classifier(tmp_path / f"{name}.safetensors", model, TINY_MLP, {"n_classes": 2})
        save_arrays(tmp_path / f"{name}.npz", {"x": np.arange(4.0), "y": np.array([1])})
    save_arrays(tmp_path / "c.npz", {"x": np.arange(4.0), "y": np.array([0])})
    assert content_digest(tmp_path / "a.npz", tmp_path / "a.safetensors") == content_digest(
        tmp_path / "b.npz", tmp_path / "b.safetensors")
    assert content_digest(tmp_path / "a.npz") != content_digest(tmp_path / "c.npz")


def test_an_unreadable_model_file_is_an_input_error(tmp_path):
    path = tmp_path / "teacher.safetensors"
    path.write_text("garbage")
    with pytest.raises(InputError, match=r"teacher\.safetensors: file: found an unreadable "
                                         r"safetensors file"):
        load_classifier(path)
    save_tensors(path, {"w": torch.zeros(2)}, {"format": "another"})
    with pytest.raises(InputError, match=r"teacher\.safetensors: metadata: found no classifier"):
        load_classifier(path)
    model = build_classifier(TINY_MLP, N_FEATURES, 2, [0.0] * N_FEATURES, [1.0] * N_FEATURES)
    save_classifier(path, model, TINY_GAT, {"n_classes": 2})
    with pytest.raises(InputError, match=r"teacher\.safetensors: state_dict: found weights that "
                                         r"do not fit"):
        load_classifier(path)


def test_a_pickled_model_file_is_refused_without_running_it(tmp_path):
    marker = tmp_path / "ran"
    path = tmp_path / "teacher.safetensors"
    # a legacy torch.save file (zip archive around a pickle) under the new name, and a bare one
    malicious_torch_file(path, marker)
    with pytest.raises(InputError, match=r"teacher\.safetensors: file: found a pickle file, "
                                         r"expected a model written by a classifier training"):
        load_classifier(path)
    path.write_bytes(malicious_pickle(marker))
    with pytest.raises(InputError, match=r"teacher\.safetensors: file: found a pickle file"):
        load_classifier(path)
    assert not marker.exists()
