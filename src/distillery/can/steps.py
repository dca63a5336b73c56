"""The steps of the CAN track, one per rule of rules/can.smk: typed settings and file paths in,
files out. The workflow scripts only read Snakemake's inputs, outputs and params and call
these; each also runs without Snakemake."""

from __future__ import annotations

import hashlib
import os
import shutil
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from distillery.can.cross import cross_figures
from distillery.can.curriculum import model_curriculum
from distillery.can.dataset import SPLITS, build_all, load_graphs, save_graphs
from distillery.can.evaluate import evaluate_model
from distillery.can.export import (
    detector_metadata,
    export_onnx,
    export_torchscript,
    graph_tensors,
    max_logit_difference,
    onnx_logits,
    payload_fusion_metadata,
    torchscript_logits,
)
from distillery.can.exported import fusion_terms
from distillery.can.fusion import (
    FittedFusion,
    ZScaler,
    dqn_scores,
    fit_dqn,
    fit_stacking,
    stacking_scores,
)
from distillery.can.ids import ids_figures, ids_table, per_attack, thresholds
from distillery.can.models.build import count_parameters, load_classifier, save_classifier
from distillery.can.operating import operating_points, operating_table, stream_scores
from distillery.can.payload import Frames, PayloadModel, window_rows
from distillery.can.plots import plot_confusion, plot_detection
from distillery.can.record import SINGLE, classifier_metrics
from distillery.can.scores import anomaly_scores
from distillery.can.settings import (
    PAYLOAD,
    AnomalyModel,
    CANEvaluateSettings,
    CANGoalSettings,
    ClassifierModel,
    CurriculumSettings,
    ExportFormat,
    FusionSettings,
    IDSSettings,
    ModelLineup,
    OperatingPointSettings,
    PayloadSettings,
)
from distillery.can.training import (
    content_digest,
    fit_classifier,
    fit_vgae,
    with_teacher,
    without_classes,
)
from distillery.can.vehicles import (
    KNOWN_VEHICLE,
    four_splits,
    known_and_unknown,
    vehicle_split_figures,
    vehicle_split_table,
)
from distillery.can.windows import WindowSettings
from distillery.data.can import Capture, CaptureReader, read_can_frames
from distillery.data.splits import read_splits
from distillery.errors import DistilleryError, InputError
from distillery.io import atomic_path, read_json, write_json
from distillery.metrics.build import goal_lines
from distillery.metrics.record import write_metrics
from distillery.sweeps import split_variant
from distillery.train.distributed import process_info
from distillery.train.settings import TorchTrainSettings, run_seed
from distillery.train.torch_device import describe_torch_device, torch_device
from distillery.train.torch_loop import predict_logits

PathLike = str | Path
EXPORTERS = {"torchscript": (export_torchscript, torchscript_logits),
             "onnx": (export_onnx, onnx_logits)}


def write_csv(path: PathLike, table: pd.DataFrame) -> None:
    with atomic_path(path) as tmp:
        table.to_csv(tmp, index=False)


def write_parquet(path: PathLike, table: pd.DataFrame) -> None:
    with atomic_path(path) as tmp:
        table.to_parquet(tmp, index=False)


def build_graphs(spec: WindowSettings, frames: PathLike, splits: PathLike,
                 graphs: Mapping[str, PathLike], windows: PathLike, meta: PathLike) -> None:
    """can_graphs: frames -> window graphs per split (`graphs[split]`), the windows table and
    the graph metadata with the window count per split and label."""
    built, table, info = build_all(read_can_frames(frames), read_splits(splits), spec,
                                   str(frames))
    for split in SPLITS:
        save_graphs(graphs[split], built[split])
    write_parquet(windows, table)
    counts = table.groupby(["split", "label"]).size()
    info["counts"] = {s: counts[s].to_dict() for s in SPLITS}
    write_json(meta, info)
    for split in SPLITS:
        print(f"{split}: {info['counts'][split]}")


def train_classifier(model: ClassifierModel, train: TorchTrainSettings,
                     curriculum: CurriculumSettings, held_out: Sequence[str], device: str, *,
                     graphs: Mapping[str, PathLike], meta: PathLike, checkpoints: PathLike,
                     output: PathLike, history: PathLike, teacher: PathLike | None = None,
                     windows: PathLike | None = None) -> None:
    """can_train: the teacher, or a student with (`model.distilled`: on the `teacher` file's
    softened logits) or without the teacher; `graphs` holds the train and val files. Resumes
    from `checkpoints` when its inputs are the same; only the main rank writes `output`."""
    if model.distilled and teacher is None:
        raise ValueError(f"{model.name}: a distilled student needs the teacher's model file")
    info = read_json(meta)
    classes = info["classes"]
    torch_dev = torch_device(device)
    print(f"device: {describe_torch_device(torch_dev, train.amp)}")
    # the inputs' content decides whether a checkpoint is resumed (rerun on other data: restart)
    teacher_file = [teacher] if model.distilled else []
    data_key = [content_digest(graphs["train"], graphs["val"], *teacher_file), sorted(held_out)]
    # held-out attacks stay unseen: out of training and of the validation that picks epochs
    train_set, val_set = (without_classes(load_graphs(graphs[s]), classes, held_out)
                          for s in ("train", "val"))
    if model.distilled:
        net = load_classifier(teacher)[0].to(torch_dev)
        train_set, val_set = (
            with_teacher(gs, predict_logits(net, gs, train.batch_size, torch_dev))
            for gs in (train_set, val_set))
    order = None
    if curriculum.enabled:
        order = model_curriculum(
            curriculum, train_set, classes, distilled=model.distilled, held_out=held_out,
            seed=run_seed(train.seed), windows_path=windows,
            label_threshold=info["windows"]["label_threshold"])
        print(f"curriculum: on, the easiest windows of each class by "
              f"{curriculum.measure(model.distilled)} first: {curriculum.start_fraction} of "
              f"them at epoch 1, all from epoch {curriculum.epochs_to_full} "
              f"({curriculum.pacing} pacing); each epoch's share of the training windows is "
              f"its curriculum_fraction")
    result = fit_classifier(model.arch, train, info, train_set, val_set, torch_dev, checkpoints,
                            history, kd=model.kd, label=model.name, data_key=data_key,
                            curriculum=order)
    if not process_info().is_main:
        return
    # optimizer steps run: each epoch's windows (all, or the curriculum's share) in batches
    sizes = [len(train_set) if order is None else len(order(e))
             for e in range(1, result.epochs_run + 1)]
    record = {"classes": classes, "n_classes": len(classes),
              "kd": model.kd and model.kd.as_dict(), "seed": run_seed(train.seed),
              "steps": sum(-(-n // train.batch_size) for n in sizes),
              "curriculum": curriculum.as_dict() if curriculum.enabled else None,
              "best_epoch": result.best_epoch, "epochs_run": result.epochs_run,
              "stopped_early": result.stopped_early, "params": count_parameters(result.model),
              "device": describe_torch_device(torch_dev, train.amp),
              "data_parallel_ranks": process_info().world_size}
    save_classifier(output, result.model, model.arch.as_dict(), record)
    print(f"saved {output}: {record['params']} parameters, best epoch {result.best_epoch}")


def train_anomaly(model: AnomalyModel, train: TorchTrainSettings, device: str, *,
                  graphs: Mapping[str, PathLike], meta: PathLike, checkpoints: PathLike,
                  output: PathLike, history: PathLike, teacher: PathLike | None = None) -> None:
    """can_train_vgae: the VGAE on the normal training windows, or (`model.teacher` set, its
    file `teacher`) a small VGAE that matches its anomaly scores."""
    if (model.teacher is None) != (teacher is None):
        raise ValueError(f"{model.name}: the teacher file is for a distilled VGAE only, and "
                         "a distilled VGAE needs it")
    info = read_json(meta)
    torch_dev = torch_device(device)
    print(f"device: {describe_torch_device(torch_dev, train.amp)}")
    teacher_file = [] if teacher is None else [teacher]
    net = load_classifier(teacher)[0] if teacher is not None else None
    result = fit_vgae(model.arch, train, info, load_graphs(graphs["train"]),
                      load_graphs(graphs["val"]), torch_dev, checkpoints, history,
                      label=model.name, teacher=net,
                      data_key=content_digest(graphs["train"], graphs["val"], *teacher_file))
    record = {"classes": info["classes"], "n_classes": len(info["classes"]),
              "best_epoch": result.best_epoch, "epochs_run": result.epochs_run,
              "stopped_early": result.stopped_early, "params": count_parameters(result.model),
              "device": describe_torch_device(torch_dev, train.amp)}
    save_classifier(output, result.model, model.arch.as_dict(), record)
    print(f"saved {output}: {record['params']} parameters, best epoch {result.best_epoch}")


def payload_inputs(frames: PathLike, windows: PathLike) -> tuple[Frames, pd.DataFrame,
                                                                  np.ndarray]:
    """The frame columns of the payload model, the windows table and its frame numbers."""
    table = read_can_frames(frames)
    return Frames.from_table(table), pd.read_parquet(windows), table["frame"].to_numpy()


def train_payload(settings: PayloadSettings, *, frames: PathLike, windows: PathLike,
                  meta: PathLike, output: PathLike) -> None:
    """can_train_payload: the payload model on the training windows without a single attack
    frame (so that no held-out attack is seen, not even at a burst's edge)."""
    frame_cols, table, numbers = payload_inputs(frames, windows)
    normal = table[(table["split"] == "train") & (table["attack_frac"] == 0)]
    rows = window_rows(normal, numbers, read_json(meta)["windows"]["size"], windows)
    model = PayloadModel.fit(frame_cols, rows, settings)
    model.save(output, {"settings": settings.as_dict(), "windows": len(rows),
                        "params": model.n_parameters})
    print(f"saved {output}: {len(model.ids)} IDs from {len(rows)} normal training windows, "
          f"{model.n_parameters} parameters")


def payload_scores(model: PathLike, frames: PathLike, windows: PathLike, size: int
                   ) -> dict[str, np.ndarray]:
    """The payload model's scores of the val and test windows of the windows table."""
    net, _ = PayloadModel.load(model)
    frame_cols, table, numbers = payload_inputs(frames, windows)
    return {split: net.score(frame_cols, window_rows(table[table["split"] == split], numbers,
                                                     size, windows))
            for split in ("val", "test")}


def score_models(models: Mapping[str, PathLike], held_out: Sequence[str],
                 fusion: FusionSettings, device: str, batch_size: int, *,
                 graphs: Mapping[str, PathLike], meta: PathLike, scores: PathLike,
                 fusion_model: PathLike, payload: PathLike | None = None,
                 frames: PathLike | None = None, windows: PathLike | None = None) -> None:
    """can_scores: anomaly scores of every model ({name: file}) on the val and test windows
    (`graphs`) and of the `payload` model (it reads the `frames` of the `windows` table), and
    the stacking and DQN fusions of the teacher's score with the VGAE's and the payload
    model's, fitted on the validation windows of the attacks seen in training."""
    info = read_json(meta)
    classes = info["classes"]
    torch_dev = torch_device(device)
    sets = {split: load_graphs(graphs[split]) for split in ("val", "test")}
    labels = {split: np.array([int(g.y) for g in gs]) for split, gs in sets.items()}
    values: dict[str, dict[str, np.ndarray]] = {split: {} for split in sets}
    for name, path in models.items():
        model, _ = load_classifier(path)
        for split, gs in sets.items():
            values[split][name] = anomaly_scores(model, gs, batch_size, torch_dev)
    if payload is not None:
        if frames is None or windows is None:
            raise ValueError("the payload model scores frames: pass `frames` and `windows`")
        for split, score in payload_scores(payload, frames, windows,
                                           info["windows"]["size"]).items():
            if len(score) != len(labels[split]):
                raise InputError(windows, f"{split} windows", f"{len(score)} windows",
                                 f"the {len(labels[split])} of {graphs[split]}",
                                 fix="rerun the can_graphs rule")
            values[split][PAYLOAD] = score
    inputs = [m for m in SINGLE if m in values["val"]]
    seen = ~np.isin(labels["val"], [classes.index(a) for a in held_out])
    pair = {split: np.stack([values[split][m] for m in inputs], 1) for split in sets}
    attack = labels["val"][seen] > 0
    scaler = ZScaler.fit(pair["val"][seen], ~attack)
    z = {split: scaler(pair[split]) for split in sets}
    coef = fit_stacking(z["val"][seen], attack, l2=fusion.stacking_l2)
    q = fit_dqn(z["val"][seen], attack, fusion)
    for split in sets:
        values[split]["stacking"] = stacking_scores(coef, z[split])
        values[split]["dqn"], action = dqn_scores(q, z[split], fusion.actions)
        share = np.bincount(action, minlength=fusion.actions) / len(action)
        print(f"{split}: DQN actions (GAT weight 0 .. 1) {np.round(share, 3).tolist()}")
    print(f"stacking: intercept {coef[0]:.3f}, weights {coef[1:].round(3).tolist()} ({inputs})")
    FittedFusion(inputs, scaler, coef, q, fusion.actions).save(fusion_model, fusion.as_dict())
    write_parquet(scores, pd.concat([
        pd.DataFrame({"split": split, "window": np.arange(len(labels[split])),
                      "label": labels[split], "model": name, "score": score})
        for split in sets for name, score in values[split].items()], ignore_index=True))


def known_test_scores(scored: pd.DataFrame, windows: pd.DataFrame, held_out: Sequence[str]
                      ) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Every model's scores of the test windows of the vehicles trained on (the record's test
    windows), and their labels."""
    known = np.isin(four_splits(windows, held_out), KNOWN_VEHICLE)
    test = scored[scored["split"] == "test"].sort_values(["model", "window"])
    by_model = {name: rows["score"].to_numpy()[known] for name, rows in test.groupby("model")}
    labels = next(iter(test.groupby("model")))[1]["label"].to_numpy()[known]
    return by_model, labels


def measure_operating_points(settings: OperatingPointSettings, held_out: Sequence[str],
                             device: str, batch_size: int, *, capture: PathLike,
                             models: Mapping[str, PathLike], fusion: PathLike,
                             scores: PathLike, windows: PathLike, meta: PathLike,
                             output: PathLike, table: PathLike,
                             payload: PathLike | None = None) -> dict[str, Any]:
    """can_operating_points: the attack-free `capture` streamed a block at a time through the
    detectors the fusions combine (`models`: {name: file}, and the `payload` model) and the
    fusions; thresholds at `settings.fprs` on its first windows, the false-positive rate and
    false alarms per hour measured on the rest, detection of the known vehicles' attack test
    windows (`scores`, `windows`) at each threshold; also at the validation thresholds."""
    info = read_json(meta)
    size, stride = info["windows"]["size"], info["windows"]["stride"]
    nets = {name: load_classifier(path)[0] for name, path in models.items()}
    net = None if payload is None else PayloadModel.load(payload)[0]
    torch_dev = torch_device(device)
    start, cpu = time.perf_counter(), time.process_time()
    reader = CaptureReader(Capture(str(capture), "long_normal"), threads=1)
    stream = stream_scores(reader, size, stride, nets, batch_size, torch_dev, payload=net,
                           fusion=FittedFusion.load(fusion), source=str(capture))
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    scored = pd.read_parquet(scores)
    val = scored[(scored["split"] == "val") & (scored["label"] == 0)]
    val_normal = {name: rows["score"].to_numpy() for name, rows in val.groupby("model")}
    test, labels = known_test_scores(scored, pd.read_parquet(windows), held_out)
    figures = operating_points(stream, settings.fprs, settings.calibration, val_normal, test,
                               labels, info["classes"])
    figures.update({"capture": str(capture), "scoring_seconds": seconds,
                    "scoring_cpu_seconds": cpu, "windows_per_s": len(stream) / seconds,
                    "validation_normal_windows": len(next(iter(val_normal.values())))})
    write_json(output, figures)
    rates = operating_table(figures)
    write_csv(table, rates)
    print(f"{figures['frames']} frames, {figures['windows']} windows, {figures['hours']:.3f} h "
          f"of traffic scored in {seconds:.1f} s ({cpu:.1f} CPU s); thresholds on the first "
          f"{figures['calibration_windows']} windows, false alarms on the last "
          f"{figures['evaluation_windows']} ({figures['evaluation_hours']:.3f} h)")
    print(rates.to_string(index=False))
    return figures


def payload_figures(model: PathLike, frames: PathLike, windows: PathLike, size: int,
                    evaluate: CANEvaluateSettings) -> dict[str, Any]:
    """Size and speed of the payload model on the test windows: windows per second scoring
    them all at once and the median milliseconds per window one at a time (the median of
    `evaluate.latency_repeats` timings each)."""
    net, saved = PayloadModel.load(model)
    frame_cols, table, numbers = payload_inputs(frames, windows)
    rows = window_rows(table[table["split"] == "test"], numbers, size, windows)
    single = rows[:evaluate.latency_windows]

    def seconds(batches: list[np.ndarray]) -> float:
        times = []
        for _ in range(evaluate.latency_repeats):
            start = time.perf_counter()
            for batch in batches:
                net.score(frame_cols, batch)
            times.append(time.perf_counter() - start)
        return float(np.median(times))

    return {"params": net.n_parameters, "size_bytes": Path(model).stat().st_size,
            "n_ids": len(net.ids), "trained_windows": saved["windows"],
            "windows_per_s": len(rows) / seconds([rows]),
            "latency_batch1_ms": 1e3 * seconds([w[None] for w in single]) / len(single)}


def evaluate_classifiers(dataset: str, models: Mapping[str, PathLike], lineup: ModelLineup,
                         held_out: Sequence[str], ids: IDSSettings, goals: CANGoalSettings,
                         evaluate: CANEvaluateSettings, device: str, *, test: PathLike,
                         meta: PathLike, scores: PathLike, windows: PathLike,
                         metrics: PathLike, table: PathLike, confusion: PathLike,
                         ids_csv: PathLike, detection: PathLike, vehicle_splits: PathLike,
                         payload: PathLike | None = None, frames: PathLike | None = None,
                         operating_points: PathLike | None = None) -> None:
    """can_evaluate: every classifier ({name: file}) on the test windows of the vehicles
    trained on (metrics, latency, speed-up), every scored model and fusion as an IDS on them
    (`scores`) and on the four vehicle/attack splits of all test windows, the `payload`
    model's size and speed (it reads `frames`), the goals, the `operating_points` of
    `measure_operating_points` when given; the metrics record of `dataset` (a dataset or a
    sweep variant), its tables and figures."""
    info = read_json(meta)
    classes = info["classes"]
    all_windows = pd.read_parquet(windows)
    splits = four_splits(all_windows, held_out)
    # the figures of each model and of the IDS are those of the vehicles trained on; the
    # vehicles never seen are in the four-split table only
    known = np.isin(splits, KNOWN_VEHICLE)
    graphs = [g for g, k in zip(load_graphs(test), known, strict=True) if k]
    torch_dev = torch_device(device)
    figures = {}
    for name, path in models.items():
        model, trained = load_classifier(path)
        figures[name] = {"best_epoch": trained["best_epoch"],
                         "epochs_run": trained["epochs_run"], "steps": trained.get("steps"),
                         "size_bytes": Path(path).stat().st_size,
                         **evaluate_model(model, graphs, classes, torch_dev, **evaluate.as_dict())}
        print(f"{name}: macro F1 {figures[name]['macro_f1']:.4f}, "
              f"{figures[name]['latency_batch1_ms']:.3f} ms/window at batch 1")
    scored = pd.read_parquet(scores)
    test_windows = all_windows[all_windows["split"] == "test"].sort_values("window")
    # renumbered, as the latency reads each window's alarm by its number
    test_windows = test_windows[known].assign(window=np.arange(known.sum()))
    detector = {}
    for name, rows in scored.groupby("model", sort=False):
        val = rows[rows["split"] == "val"]
        tst = rows[rows["split"] == "test"].sort_values("window")[known]
        detector[name] = ids_figures(val["score"].to_numpy(), val["label"].to_numpy(),
                                     tst["score"].to_numpy(), tst["label"].to_numpy(),
                                     test_windows, classes, ids.fprs)
    split_figures = vehicle_split_figures(scored, splits, ids.fprs[0])
    detector_figures = None
    if payload is not None:
        if frames is None:
            raise ValueError("the payload model scores frames: pass `frames`")
        detector_figures = payload_figures(payload, frames, windows, info["windows"]["size"],
                                           evaluate)
    name, variant = split_variant(dataset)
    record = classifier_metrics(name, figures, goals, lineup,
                                describe_torch_device(torch_dev, amp=False), classes,
                                n_windows=len(graphs), ids=detector, held_out=held_out,
                                fprs=ids.fprs, payload=detector_figures, variant=variant,
                                vehicle_splits=split_figures, split_model=ids.split_model,
                                vehicles=known_and_unknown(all_windows),
                                operating_points=None if operating_points is None
                                else read_json(operating_points))
    write_metrics(metrics, record)
    classifiers = [m for m in record.models if m.model in lineup.roles]
    models_table = pd.DataFrame([
        {"model": m.model, "role": m.role, "params": m.n_params,
         "accuracy": m.metrics["accuracy"], "macro_f1": m.primary.value,
         "auroc_ovr_macro": m.metrics["auroc_ovr_macro"],
         "latency_batch1_ms": m.metrics["latency_batch1_ms"],
         "latency_batched_ms": m.metrics["latency_batched_ms"],
         "speedup_vs_teacher": m.metrics["speedup_vs_teacher"]} for m in classifiers])
    write_csv(table, models_table)
    plot_confusion(confusion, {m.model: m.metrics["confusion_matrix"] for m in classifiers},
                   classes)
    rates = ids_table(detector, held_out)
    write_csv(ids_csv, rates)
    # the seed repeats are in ids.csv and in `summary.seeds`, not in the figure
    repeats = [] if lineup.seeds is None else [m for names in lineup.seeds.models.values()
                                               for m in names[1:]]
    plot_detection(detection, rates[~rates["model"].isin(repeats)], ids.fprs[0])
    four = vehicle_split_table(split_figures)
    write_csv(vehicle_splits, four)
    print(models_table.to_string(index=False))
    print(rates.to_string(index=False))
    print(four.to_string(index=False))
    _print_unseen(record.summary["unseen"])
    if "seeds" in record.summary:
        _print_seeds(record.summary["seeds"])
    for line in goal_lines(record):
        print(f"goal {line}")


def _print_unseen(unseen: Mapping[str, Mapping[str, Any]]) -> None:
    for attack, figures in unseen.items():
        if not figures["n"]:
            print(f"unseen attack {attack}: no test window, so no detection figures")
            continue
        print(f"unseen attack {attack}: {figures['n']} test windows, detection at "
              f"{figures['fpr']} FPR {figures['detection_rate']}; fusion beats the better "
              f"single detector: {figures['fusion_beats_best_single']}")


def _print_seeds(seeds: Mapping[str, Any]) -> None:
    for role in ("teacher", "kd", "scratch"):
        figures = seeds[role]
        aurocs = ", ".join(f"{k[6:]} AUROC {_mean_std(v)}" for k, v in figures.items()
                           if k.startswith("auroc_"))
        print(f"seeds {seeds['student'] if role != 'teacher' else 'teacher'} {role} "
              f"(seeds {figures['seeds']}, {figures['params']:.0f} parameters, steps "
              f"{figures['steps']}): macro F1 {_mean_std(figures['macro_f1'])}, on the classes "
              f"trained on {_mean_std(figures['macro_f1_seen'])}; {aurocs}")


def _mean_std(figure: Mapping[str, Any]) -> str:
    if figure["mean"] is None:
        return "n/a"
    return f"{figure['mean']:.4f} ± {figure['std']:.4f}"


def export_model(name: str, fmt: ExportFormat, model_file: PathLike, graphs: PathLike, *,
                 val: PathLike, meta: PathLike, fprs: Sequence[float], batch_size: int,
                 check_graphs: int, tolerance: float, output: PathLike, check: PathLike,
                 payload: PathLike | None = None, scores: PathLike | None = None,
                 windows: PathLike | None = None, held_out: Sequence[str] = (),
                 stacking_l2: float = 1.0) -> dict[str, Any]:
    """can_export_model: one classifier in one format with what the live detector needs
    (window settings, alarm thresholds at `fprs` on the normal validation windows) and, with
    the exported `payload` model, how to fuse the two (`payload_fusion_metadata`, fitted on
    the validation `scores` of both, leaving out the `held_out` attacks and the windows
    labelled normal that hold attack frames (the `windows` table); the check also holds the
    IDS figures of the fused score and of the student's alone on the test windows of the
    vehicles trained on); its logits on the first `check_graphs`
    test graphs compared with the in-process model's; a difference above `tolerance` fails
    after the check is written."""
    export, run = EXPORTERS[fmt]
    model, _ = load_classifier(model_file)
    info = read_json(meta)
    metadata = detector_metadata(model, name, info, load_graphs(val), fprs, batch_size)
    fused = None
    if payload is not None:
        if scores is None or windows is None:
            raise ValueError("the payload fusion is fitted on the validation scores of the "
                             "windows: pass `scores` and `windows`")
        metadata["payload"], fused = _payload_fusion(
            name, info["classes"], payload, scores, windows, held_out, fprs, stacking_l2,
            output)
    tensors = [graph_tensors(g) for g in load_graphs(graphs)[:check_graphs]]
    export(model, tensors[0], output, metadata)
    diff = max_logit_difference(model, tensors, run, output)
    result = {"model": name, "format": fmt, "n_graphs": len(tensors), "max_logit_diff": diff,
              "tolerance": tolerance, "passed": diff <= tolerance,
              **({} if fused is None else {"payload_fusion": fused})}
    write_json(check, result)
    print(f"{name} ({fmt}): max |exported - in-process| logit on {len(tensors)} test graphs: "
          f"{diff:.2e}")
    if fused is not None:
        for attack in held_out:
            figures = {k: fused[k]["attacks"].get(attack) for k in ("student", "fused")}
            print(f"{attack}: " + "; ".join(
                f"{k} detection {f['detection_rate'][str(fprs[0])]:.2f} at {fprs[0]} FPR, "
                f"AUROC {f['auroc']:.3f}" for k, f in figures.items() if f is not None))
    if not result["passed"]:
        raise DistilleryError(f"exported {name} ({fmt}) logits differ by {diff:.2e}, more "
                              f"than {tolerance}; see {check}")
    return result


def _payload_fusion(name: str, classes: Sequence[str], payload: PathLike, scores: PathLike,
                    windows: PathLike, held_out: Sequence[str], fprs: Sequence[float],
                    l2: float, output: PathLike) -> tuple[dict[str, Any], dict[str, Any]]:
    """The payload block of the export `output` of classifier `name`: its validation scores
    and the payload model's (scores.parquet) fused by `payload_fusion_metadata` on the
    windows of the attacks trained on and the normal windows without a single attack frame
    (the `windows` table); and the IDS figures (`per_attack`) of the fused score and of the
    student's own on the test windows of the vehicles trained on, at the thresholds of the
    block and of the student's own (those of its export)."""
    table, all_windows = pd.read_parquet(scores), pd.read_parquet(windows)
    pairs = {}
    for split in ("val", "test"):
        rows = table[table["split"] == split]
        pair = [rows[rows["model"] == m].sort_values("window") for m in (name, PAYLOAD)]
        if len(pair[0]) != len(pair[1]) or not np.array_equal(pair[0]["label"].to_numpy(),
                                                              pair[1]["label"].to_numpy()):
            raise InputError(scores, f"{split} scores", f"{len(pair[1])} payload scores",
                             f"one per {split} window of {name} ({len(pair[0])})",
                             fix="rerun the can_scores rule")
        pairs[split] = (pair[0]["label"].to_numpy(), pair[0]["score"].to_numpy(),
                        pair[1]["score"].to_numpy())
    labels, student, payload_val = pairs["val"]
    val_windows = all_windows[all_windows["split"] == "val"].sort_values("window")
    if len(val_windows) != len(labels):
        raise InputError(windows, "val windows", f"{len(val_windows)} windows",
                         f"the {len(labels)} scored in {scores}", fix="rerun the can_scores rule")
    edge = (labels == 0) & (val_windows["attack_frac"].to_numpy() > 0)
    fitted = ~np.isin(labels, [classes.index(a) for a in held_out]) & ~edge
    file = Path(os.path.relpath(payload, Path(output).parent)).as_posix()
    block = payload_fusion_metadata(
        student, payload_val, labels > 0, fitted, fprs, l2, file,
        hashlib.sha256(Path(payload).read_bytes()).hexdigest())
    known = np.isin(four_splits(all_windows, held_out), KNOWN_VEHICLE)
    labels_test, student_test, payload_test = (a[known] for a in pairs["test"])
    coef = np.asarray(block["coef"])
    fused = coef[0] + fusion_terms(np.asarray(block["z_mean"]), np.asarray(block["z_std"]),
                                   coef, student_test, payload_test).sum(1)
    own = thresholds(student[labels == 0], fprs)
    return block, {"student": per_attack(student_test, labels_test, classes, own),
                   "fused": per_attack(fused, labels_test, classes,
                                       {float(f): t for f, t in block["thresholds"].items()}),
                   "coef": block["coef"], "val_edge_windows_left_out": int(edge.sum())}


def export_payload(model: PathLike, output: PathLike) -> None:
    """can_export_payload: the payload model beside the exports that name it (read first, so
    that only a valid model file is exported)."""
    net, _ = PayloadModel.load(model)
    with atomic_path(output) as tmp:
        shutil.copyfile(model, tmp)
    print(f"exported {output}: {len(net.ids)} IDs, {net.n_parameters} parameters")


def collect_export_checks(checks: Sequence[PathLike], output: PathLike) -> dict[str, Any]:
    """can_export_checks: every export check of a dataset in one file."""
    found = [read_json(path) for path in checks]
    summary = {"checks": found, "passed": all(c["passed"] for c in found)}
    write_json(output, summary)
    print(f"{len(found)} exports checked")
    return summary


def cross_evaluate(source: str, target: str, models: Mapping[str, PathLike], ids: IDSSettings,
                   device: str, batch_size: int, *, source_val: PathLike, test: PathLike,
                   meta: PathLike, windows: PathLike, output: PathLike,
                   table: PathLike) -> None:
    """can_cross: the models of dataset `source` ({name: file}) as detectors on the test
    windows of `target`, thresholds from `source`'s normal validation windows."""
    test_windows = pd.read_parquet(windows)
    nets = {name: load_classifier(path)[0] for name, path in models.items()}
    figures = cross_figures(nets, load_graphs(source_val), load_graphs(test),
                            test_windows[test_windows["split"] == "test"],
                            read_json(meta)["classes"], ids.fprs, batch_size,
                            torch_device(device))
    write_json(output, {"source": source, "target": target, "ids": figures})
    rates = ids_table(figures, ())
    write_csv(table, rates)
    print(rates.to_string(index=False))
