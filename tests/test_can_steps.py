"""The CAN steps without Snakemake on a tiny capture: frames -> graphs -> teacher -> KD student
-> TorchScript export and its check, each step reading only typed settings and file paths."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from distillery.can.dataset import SPLITS, load_graphs
from distillery.can.exported import ExportedClassifier, PayloadFusion
from distillery.can.models.build import load_classifier
from distillery.can.payload import PayloadModel
from distillery.can.settings import (
    CANEvaluateSettings,
    ClassifierSettings,
    CurriculumSettings,
    FusionSettings,
    GATSettings,
    KDSettings,
    MLPSettings,
    PayloadSettings,
    WindowSettings,
)
from distillery.can.steps import (
    build_graphs,
    collect_export_checks,
    export_model,
    export_payload,
    payload_figures,
    payload_scores,
    score_models,
    train_classifier,
    train_payload,
)
from distillery.data.can import FRAME_SCHEMA
from distillery.data.splits import write_splits
from distillery.errors import DistilleryError
from distillery.io import read_json
from distillery.train.settings import TorchTrainSettings
from tests.test_can_graphs import _table

SETTINGS = ClassifierSettings(
    teacher=GATSettings(hidden=4, heads=1, layers=1, jk=None),
    students={"mlp": MLPSettings(hidden=4)}, scratch=(), kd=KDSettings(temperature=2.0),
    train=TorchTrainSettings(epochs=2, batch_size=8, amp=False, seed=1), seeds=None)


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """Graphs of a capture of 10-frame blocks, normal and dos in turn (one window each)."""
    root = tmp_path_factory.mktemp("can_steps")
    table = _table([label for _ in range(12) for label in ["normal"] * 10 + ["dos"] * 10])
    with pq.ParquetWriter(root / "frames.parquet", FRAME_SCHEMA) as writer:
        writer.write_table(pa.Table.from_pandas(table, schema=FRAME_SCHEMA, preserve_index=False))
    rows = np.arange(len(table))
    write_splits(root / "splits.json", {"train": rows[:160], "val": rows[160:200],
                                        "test": rows[200:]})
    graphs = {split: root / f"{split}.npz" for split in SPLITS}
    build_graphs(WindowSettings(size=10, stride=10, label_threshold=0.5),
                 root / "frames.parquet", root / "splits.json", graphs,
                 root / "windows.parquet", root / "meta.json")
    return {"root": root, "graphs": graphs, "meta": root / "meta.json"}


@pytest.fixture(scope="module")
def teacher(files: dict) -> dict:
    """The trained teacher's record (its file: `teacher.safetensors`)."""
    return _train(files, "teacher")


def _train(files: dict, model: str, **inputs) -> dict:
    root = files["root"]
    train_classifier(SETTINGS.role(model), SETTINGS.train, SETTINGS.curriculum, (), "cpu",
                     graphs=files["graphs"], meta=files["meta"],
                     checkpoints=root / "ckpt" / model, output=root / f"{model}.safetensors",
                     history=root / f"{model}.csv", **inputs)
    return load_classifier(root / f"{model}.safetensors")[1]


def test_graphs_meta_counts_the_windows_of_each_split(files):
    windows = pd.read_parquet(files["root"] / "windows.parquet")
    meta = read_json(files["meta"])
    assert meta["classes"] == ["normal", "dos"]
    # 16 train, 4 val, 4 test windows of 10 frames, every second one an attack
    assert meta["counts"] == {"train": {"dos": 8, "normal": 8}, "val": {"dos": 2, "normal": 2},
                              "test": {"dos": 2, "normal": 2}}
    assert len(load_graphs(files["graphs"]["test"])) == 4 == (windows["split"] == "test").sum()


def test_teacher_then_distilled_student_then_its_checked_export(files, teacher):
    root = files["root"]
    assert teacher["kd"] is None and teacher["epochs_run"] == 2
    # 16 training windows in batches of 8 for 2 epochs, with the configured seed
    assert (teacher["steps"], teacher["seed"]) == (4, 1)
    with pytest.raises(ValueError, match="mlp_kd: a distilled student needs the teacher"):
        _train(files, "mlp_kd")
    student = _train(files, "mlp_kd", teacher=root / "teacher.safetensors")
    assert student["kd"] == {"temperature": 2.0, "alpha": 0.7}

    out = root / "export"
    detector = {"val": files["graphs"]["val"], "meta": files["meta"], "fprs": (0.5,),
                "batch_size": 4}
    result = export_model("mlp_kd", "torchscript", root / "mlp_kd.safetensors",
                          files["graphs"]["test"], **detector, check_graphs=3, tolerance=1e-4,
                          output=out / "model.torchscript", check=out / "check.json")
    assert result == read_json(out / "check.json")
    assert (result["n_graphs"], result["passed"]) == (3, True)
    assert result["max_logit_diff"] <= 1e-4
    # a difference above the tolerance fails the step after the check is written
    with pytest.raises(DistilleryError, match=r"exported mlp_kd \(torchscript\) logits differ"):
        export_model("mlp_kd", "torchscript", root / "mlp_kd.safetensors",
                     files["graphs"]["test"], **detector, check_graphs=3, tolerance=-1.0,
                     output=out / "strict.torchscript", check=out / "strict.json")
    summary = collect_export_checks([out / "check.json", out / "strict.json"],
                                    root / "checks.json")
    assert [c["passed"] for c in summary["checks"]] == [True, False]
    assert not summary["passed"] and read_json(root / "checks.json") == summary


def test_curriculum_of_a_distilled_student_ranks_by_the_teachers_loss(files, teacher, capsys):
    """The role decides the difficulty measure: no windows table needed for a KD student."""
    root = files["root"]
    curriculum = CurriculumSettings(enabled=True, epochs_to_full=2)
    train_classifier(SETTINGS.role("mlp_kd"), SETTINGS.train, curriculum, (), "cpu",
                     graphs=files["graphs"], meta=files["meta"], checkpoints=root / "ckpt_c",
                     output=root / "curriculum.safetensors", history=root / "curriculum.csv",
                     teacher=root / "teacher.safetensors")
    assert "by teacher_loss first" in capsys.readouterr().out


def test_payload_model_trains_on_attack_free_training_windows_and_scores_val_and_test(files):
    root = files["root"]
    output = root / "payload.safetensors"
    train_payload(PayloadSettings(), frames=root / "frames.parquet",
                  windows=root / "windows.parquet", meta=files["meta"], output=output)
    model, metadata = PayloadModel.load(output)
    # the 8 normal training windows; the dos windows hold attack frames
    assert metadata["windows"] == 8 and metadata["settings"] == PayloadSettings().as_dict()
    assert model.ids.tolist() == [0x100, 0x200, 0x300]
    scores = payload_scores(output, root / "frames.parquet", root / "windows.parquet", 10)
    assert {split: len(s) for split, s in scores.items()} == {"val": 4, "test": 4}
    assert all(np.isfinite(s).all() and (s > 0).all() for s in scores.values())
    figures = payload_figures(output, root / "frames.parquet", root / "windows.parquet", 10,
                              CANEvaluateSettings(latency_windows=2, latency_repeats=1))
    assert figures["params"] == model.n_parameters and figures["trained_windows"] == 8
    assert figures["windows_per_s"] > 0 and figures["latency_batch1_ms"] > 0


def test_an_export_names_the_payload_model_and_fuses_on_validation_scores(files, teacher):
    root = files["root"]
    _train(files, "mlp_kd", teacher=root / "teacher.safetensors")
    frames, windows = root / "frames.parquet", root / "windows.parquet"
    train_payload(PayloadSettings(), frames=frames, windows=windows, meta=files["meta"],
                  output=root / "payload.safetensors")
    out = root / "fused_export"
    export_payload(root / "payload.safetensors", out / "payload.safetensors")
    assert (out / "payload.safetensors").read_bytes() == (root / "payload.safetensors"
                                                           ).read_bytes()
    scores = root / "scores.parquet"
    score_models({"teacher": root / "teacher.safetensors", "mlp_kd": root / "mlp_kd.safetensors"},
                 (), FusionSettings(steps=5), "cpu", 4, graphs=files["graphs"],
                 meta=files["meta"], scores=scores, fusion_model=root / "fusion.safetensors",
                 payload=root / "payload.safetensors", frames=frames, windows=windows)
    result = export_model("mlp_kd", "torchscript", root / "mlp_kd.safetensors",
                          files["graphs"]["test"], val=files["graphs"]["val"], meta=files["meta"],
                          fprs=(0.5,), batch_size=4, check_graphs=2, tolerance=1e-4,
                          output=out / "mlp_kd" / "model.torchscript", check=out / "check.json",
                          payload=out / "payload.safetensors", scores=scores, windows=windows)
    exported = ExportedClassifier(out / "mlp_kd" / "model.torchscript")
    block = exported.meta["payload"]
    # the export names the payload model beside it, by a path relative to its own folder
    assert (block["file"], block["n_val_fitted"], block["n_val_normal"]) == (
        "../payload.safetensors", 4, 2)
    fusion = PayloadFusion.load(exported)
    table = pd.read_parquet(scores)
    val = table[table["split"] == "val"]
    pair = [val[val["model"] == m].sort_values("window")["score"].to_numpy()
            for m in ("mlp_kd", "payload")]
    fused = fusion.coef[0] + fusion.terms(*pair).sum(1)
    normal = val[val["model"] == "payload"].sort_values("window")["label"].to_numpy() == 0
    # the threshold at 50 % FPR of the 2 normal validation windows: the lower of their scores
    assert fusion.thresholds == {0.5: pytest.approx(fused[normal].min())}
    # the check holds the student's and the fused test figures (4 test windows, 2 dos)
    fusion_check = result["payload_fusion"]
    assert {k: fusion_check[k]["attacks"]["dos"]["n"] for k in ("student", "fused")} == {
        "student": 2, "fused": 2}
    # the windows are whole 10-frame blocks: no normal window holds attack frames
    assert fusion_check["val_edge_windows_left_out"] == 0
    assert fusion_check["coef"] == block["coef"] and result["passed"]
