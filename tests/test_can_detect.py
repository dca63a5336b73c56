"""Live detection: a candump capture streamed from a file and from stdin gives the same alerts,
the injected DoS windows are flagged and blamed on the flooding ID, windows match training's,
a masquerade the student misses is flagged through the payload model the export names, and a
malformed line stops the stream with its line number and the fix."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from torch_geometric.data import Batch

from distillery.can.dataset import build_all, load_graphs, save_graphs
from distillery.can.detect import main
from distillery.can.export import (
    detector_metadata,
    export_torchscript,
    graph_tensors,
    payload_fusion_metadata,
)
from distillery.can.exported import ExportedClassifier, PayloadFusion
from distillery.can.fusion import stacking_scores
from distillery.can.graph import window_graph
from distillery.can.ids import thresholds
from distillery.can.models.build import build_classifier
from distillery.can.payload import Frames, PayloadModel
from distillery.can.payload import window_rows as payload_rows
from distillery.can.scores import anomaly_scores
from distillery.can.settings import PayloadSettings, WindowSettings
from distillery.can.stream import WindowStream
from distillery.can.windows import window_label, window_rows
from distillery.data.can import Capture, CaptureReader, combine_captures, read_can_csv
from distillery.data.generate.can_bus import simulate_capture, write_capture

ROOT = Path(__file__).resolve().parents[1]
FPRS = (0.05, 0.01)
SPEC = WindowSettings()


@pytest.fixture(scope="module")
def capture(tmp_path_factory):
    """A DoS capture as candump lines, its frame table, and an MLP export trained on it."""
    folder = tmp_path_factory.mktemp("detect")
    rows = simulate_capture("dos", duration=12.0, n_ids=10, n_bursts=3, seed=0)
    write_capture(folder / "bus.log", rows, "candump")
    write_capture(folder / "bus.csv", rows)
    table = combine_captures([read_can_csv(folder / "bus.csv", "dos", "bus")], "bus")
    cut = int(len(table) * 0.7)
    splits = {"train": np.arange(cut), "val": np.arange(cut, len(table)),
              "test": np.arange(cut, len(table))}
    collated, windows, meta = build_all(table, splits, SPEC, "bus")
    graphs = {}
    for split in ("train", "val"):
        save_graphs(folder / f"{split}.npz", collated[split])
        graphs[split] = load_graphs(folder / f"{split}.npz")
    torch.manual_seed(0)
    model = build_classifier({"kind": "mlp", "hidden": 16}, len(meta["features"]), 2,
                             meta["feature_mean"], meta["feature_std"])
    batch = Batch.from_data_list(graphs["train"])
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(60):  # full batch: a few hundred windows
        optimizer.zero_grad()
        torch.nn.functional.cross_entropy(model(batch), batch.y).backward()
        optimizer.step()
    model.eval()
    metadata = detector_metadata(model, "mlp_kd", meta, graphs["val"], FPRS, 256)
    export_torchscript(model, graph_tensors(graphs["val"][0]), folder / "model.torchscript",
                       metadata)
    return {"folder": folder, "table": table, "model": model, "val": graphs["val"],
            "windows": windows, "meta": meta}


@pytest.fixture(scope="module")
def fused(capture):
    """The MLP exported with a payload model fitted on the capture's attack-free training
    windows, fused on its validation windows; and a masquerade capture of the same vehicle."""
    folder, table, windows = capture["folder"], capture["table"], capture["windows"]
    frames, numbers = Frames.from_table(table), table["frame"].to_numpy()
    normal = windows[(windows["split"] == "train") & (windows["attack_frac"] == 0)]
    payload = PayloadModel.fit(frames, payload_rows(normal, numbers, SPEC.size, "bus"),
                               PayloadSettings())
    payload.save(folder / "payload.safetensors", {})
    val = capture["val"]
    student = anomaly_scores(capture["model"], val, 256, torch.device("cpu"))
    rows = payload_rows(windows[windows["split"] == "val"], numbers, SPEC.size, "bus")
    labels = np.array([int(g.y) for g in val])
    digest = hashlib.sha256((folder / "payload.safetensors").read_bytes()).hexdigest()
    metadata = detector_metadata(capture["model"], "mlp_kd", capture["meta"], val, FPRS, 256)
    metadata["payload"] = payload_fusion_metadata(
        student, payload.score(frames, rows), labels > 0, np.ones(len(val), bool), FPRS, 1.0,
        "payload.safetensors", digest)
    export_torchscript(capture["model"], graph_tensors(val[0]), folder / "fused.torchscript",
                       metadata)
    masquerade = simulate_capture("masquerade", duration=12.0, n_ids=10, n_bursts=3, seed=0)
    write_capture(folder / "masquerade.log", masquerade, "candump")
    write_capture(folder / "masquerade.csv", masquerade)
    return {"model": folder / "fused.torchscript", "payload": payload,
            "log": folder / "masquerade.log",
            "table": combine_captures([read_can_csv(folder / "masquerade.csv", "masquerade",
                                                    "bus")], "bus")}


def _alerts(text: str) -> list[dict[str, str]]:
    return [dict(part.split("=", 1) for part in line.split()[1:])
            for line in text.splitlines() if line.startswith("alert ")]


def test_stream_windows_are_the_training_windows(capture):
    table = capture["table"]
    reader = CaptureReader(Capture(str(capture["folder"] / "bus.log"), "bus"), block_bytes=3000,
                           threads=0)
    stream, built = WindowStream(SPEC.size, SPEC.stride), []
    for frames in reader:  # small blocks: windows straddle blocks, blocks hold several windows
        windows = stream.push(frames)
        if windows is not None:
            built += [(int(k), windows.graphs.graph(g)) for g, k in enumerate(windows.numbers)]
    expected = window_rows(np.arange(len(table)), SPEC)
    assert [k for k, _ in built] == list(range(len(expected)))
    arrays = [table[c].to_numpy() for c in ("can_id", "timestamp", "dlc")]
    payload = table[[f"b{i}" for i in range(8)]].to_numpy()
    for (_, got), rows in zip(built, expected, strict=True):
        want = window_graph(*(a[rows] for a in arrays), payload[rows])
        for field in ("can_ids", "x", "edge_index", "edge_weight"):
            np.testing.assert_array_equal(getattr(got, field), getattr(want, field))


def test_export_carries_the_thresholds_of_normal_validation_windows(capture):
    exported = ExportedClassifier(capture["folder"] / "model.torchscript")
    val = capture["val"]
    with torch.no_grad():
        logits = torch.cat([capture["model"](g) for g in val]).double()
    scores = 1 - torch.softmax(logits, 1)[:, 0].numpy()
    normal = np.array([int(g.y) for g in val]) == 0
    expected = thresholds(scores[normal], FPRS)
    assert exported.meta["windows"] == {"size": SPEC.size, "stride": SPEC.stride,
                                        "label_threshold": SPEC.label_threshold}
    for fpr, cut in expected.items():
        assert exported.meta["thresholds"][str(fpr)] == pytest.approx(cut, abs=1e-9)
    x, edge_index, edge_attr = (t.numpy() for t in graph_tensors(val[0]))
    assert exported.score(x, edge_index, edge_attr) == pytest.approx(scores[0], abs=1e-5)


def test_file_and_stdin_give_the_same_alerts_and_flag_the_dos_windows(capture, capsys):
    folder, table = capture["folder"], capture["table"]
    model = str(folder / "model.torchscript")
    assert main(["--model", model, str(folder / "bus.log")]) == 0
    from_file = capsys.readouterr().out
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    piped = subprocess.run([sys.executable, "-m", "distillery.can.detect", "--model", model, "-"],
                           input=(folder / "bus.log").read_bytes(), capture_output=True,
                           env=env, timeout=120)
    assert piped.returncode == 0, piped.stderr.decode()
    assert piped.stdout.decode() == from_file
    alerts = _alerts(from_file)
    labels = table["label"].astype(str).to_numpy()
    windows = window_rows(np.arange(len(table)), SPEC)
    attack = {k for k, rows in enumerate(windows) if window_label(labels[rows], SPEC) != "normal"}
    flagged = {int(a["window"]) for a in alerts}
    assert len(attack & flagged) >= 0.9 * len(attack)
    # a DoS flood window is blamed on the flooding ID 0x000 first
    inside = [a for a in alerts if labels[windows[int(a["window"])]].tolist().count("dos") > 50]
    assert inside and all(a["ids"].startswith("000:+") for a in inside)
    first = alerts[0]
    assert float(first["t"]) == table["timestamp"].to_numpy()[windows[int(first["window"])][-1]]


def test_a_malformed_line_stops_with_its_number_and_the_fix(capture, tmp_path, capsys):
    lines = (capture["folder"] / "bus.log").read_text().splitlines(keepends=True)
    lines[250] = "(1478198377.5) vcan0 12G#0011\n"
    bad = tmp_path / "bad.log"
    bad.write_text("".join(lines))
    model = str(capture["folder"] / "model.torchscript")
    assert main(["--model", model, str(bad)]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert "line 251" in err and "12G#0011" in err and "--skip-bad-lines" in err
    assert main(["--model", model, "--skip-bad-lines", str(bad)]) == 0


def test_bad_model_and_threshold_choices_are_one_line_errors(capture, tmp_path, capsys):
    log = str(capture["folder"] / "bus.log")
    model = str(capture["folder"] / "model.torchscript")
    assert main(["--model", model, "--fpr", "0.2", log]) == 1
    assert "--fpr: found 0.2" in capsys.readouterr().err
    plain = tmp_path / "plain.torchscript"
    export_torchscript(capture["model"], graph_tensors(capture["val"][0]), plain)
    assert main(["--model", str(plain), log]) == 1
    assert "no detector metadata" in capsys.readouterr().err
    # a threshold above every score: no alert at all
    assert main(["--model", model, "--threshold", "1.0", log]) == 0
    assert _alerts(capsys.readouterr().out) == []


def test_the_payload_model_flags_a_masquerade_the_student_misses(capture, fused, capsys):
    table = fused["table"]
    labels = table["label"].astype(str).to_numpy()
    windows = window_rows(np.arange(len(table)), SPEC)
    attack = {k for k, rows in enumerate(windows) if window_label(labels[rows], SPEC) != "normal"}
    assert main(["--model", str(fused["model"]), "--no-payload", str(fused["log"])]) == 0
    alone = _alerts(capsys.readouterr().out)
    assert main(["--model", str(fused["model"]), str(fused["log"])]) == 0
    out = capsys.readouterr()
    assert "(student + payload model)" in out.err
    alerts = _alerts(out.out)
    flagged = {int(a["window"]) for a in alerts}
    # the DoS-trained student sees no masquerade; student and payload model see most of it
    assert len(attack & {int(a["window"]) for a in alone}) <= 0.2 * len(attack)
    assert len(attack & flagged) >= 0.8 * len(attack)
    # windows without a forged frame alarm far less often (the payload model learned from the
    # 8 s of the DoS capture's attack-free training windows only, another draw of the
    # vehicle's signals: 7 of 59 alarm here)
    clean = {k for k, rows in enumerate(windows) if (labels[rows] == "normal").all()}
    assert len(flagged & clean) <= 0.15 * len(clean)
    # a forged window is the payload model's alarm, blamed on the masqueraded ID first: the
    # fastest ECU, whose payloads are the ones replaced
    target = table.loc[labels == "masquerade", "can_id"].mode()[0]
    forged = [a for a in alerts if int(a["window"]) in attack]
    assert all(a["by"] == "payload" for a in forged)
    assert all(a["ids"].startswith(f"{target:03X}:+") for a in forged)
    # the alarm score is the fusion's logit of the two scores, window by window
    export = ExportedClassifier(fused["model"])
    fusion = PayloadFusion.load(export)
    frames = Frames.from_table(table)
    arrays = [table[c].to_numpy() for c in ("can_id", "timestamp", "dlc")]
    payload = table[[f"b{i}" for i in range(8)]].to_numpy()
    for a in forged[:3]:
        rows = windows[int(a["window"])]
        graph = window_graph(*(x[rows] for x in arrays), payload[rows])
        student = export.score(graph.x, np.ascontiguousarray(graph.edge_index),
                               graph.edge_weight[:, None])
        z = (np.log([student, fused["payload"].score(frames, rows[None])[0]]) - fusion.mean) \
            / fusion.std
        assert float(a["score"]) == pytest.approx(stacking_scores(fusion.coef, z), rel=1e-3)


def test_a_payload_model_other_than_the_exports_is_refused(fused, tmp_path, capsys):
    other = tmp_path / "other.safetensors"
    fused["payload"].save(other, {"note": "another file"})
    assert main(["--model", str(fused["model"]), "--payload", str(other),
                 str(fused["log"])]) == 1
    assert "another payload model than the export's" in capsys.readouterr().err


def test_the_fusion_leaves_out_the_windows_it_is_told_to():
    """A normal-labelled window at a burst's edge scores high on both detectors; left out of
    the fit, it no longer sets the threshold of the lowest false-positive rate."""
    rng = np.random.default_rng(0)
    student = np.concatenate([rng.uniform(0.01, 0.02, 50), rng.uniform(0.9, 1.0, 50), [0.95]])
    payload = np.concatenate([rng.uniform(1.0, 2.0, 50), rng.uniform(50, 60, 50), [55.0]])
    attack = np.arange(101) >= 50
    attack[100] = False  # the edge window: labelled normal
    kept = np.arange(101) < 100
    every = np.ones(101, bool)
    wide, clean = (payload_fusion_metadata(student, payload, attack, fitted, (0.01,), 1.0, "p",
                                           "x") for fitted in (every, kept))
    assert (wide["n_val_normal"], clean["n_val_normal"]) == (51, 50)

    def fused(block: dict, i: np.ndarray) -> np.ndarray:
        z = (np.log(np.stack([student[i], payload[i]], 1)) - block["z_mean"]) / block["z_std"]
        return stacking_scores(np.asarray(block["coef"]), z)

    normal = np.flatnonzero(~attack & kept)
    # at 1 % of 50 windows the threshold is the highest normal score kept
    assert clean["thresholds"]["0.01"] == pytest.approx(fused(clean, normal).max())
    assert wide["thresholds"]["0.01"] == pytest.approx(fused(wide, np.array([100]))[0])
