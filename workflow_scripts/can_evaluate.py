"""Test-set metrics, latency and speed-up of every CAN classifier; confusion matrices."""

from pathlib import Path

import pandas as pd
import torch

from distillery.can.dataset import load_graphs
from distillery.can.evaluate import evaluate_model
from distillery.can.ids import ids_figures, ids_table
from distillery.can.models.build import load_classifier
from distillery.can.plots import plot_confusion, plot_detection
from distillery.can.record import classifier_metrics, role
from distillery.io import atomic_path, read_json
from distillery.metrics.build import goal_lines
from distillery.metrics.record import write_metrics
from distillery.sweeps import split_variant
from distillery.train.torch_device import describe_torch_device, torch_device
from distillery.workflow import run_script


def main(snakemake) -> None:
    torch.set_num_threads(snakemake.threads)
    p = snakemake.params
    meta = read_json(snakemake.input.meta)
    test = load_graphs(snakemake.input.test)
    device = torch_device(p.device)
    models = {}
    for name, path in zip(p.models, snakemake.input.models, strict=True):
        model, info = load_classifier(path)
        models[name] = {"role": role(name), "best_epoch": info["best_epoch"],
                        "size_bytes": Path(path).stat().st_size,
                        **evaluate_model(model, test, meta["classes"], device,
                                       **p.evaluate.as_dict())}
        print(f"{name}: macro F1 {models[name]['macro_f1']:.4f}, "
              f"{models[name]['latency_batch1_ms']:.3f} ms/window at batch 1")
    scores = pd.read_parquet(snakemake.input.scores)
    windows = pd.read_parquet(snakemake.input.windows)
    test_windows = windows[windows["split"] == "test"]
    ids = {}
    for name, rows in scores.groupby("model", sort=False):
        val, tst = rows[rows["split"] == "val"], rows[rows["split"] == "test"]
        ids[name] = ids_figures(val["score"].to_numpy(), val["label"].to_numpy(),
                                tst["score"].to_numpy(), tst["label"].to_numpy(),
                                test_windows, meta["classes"], p.ids.fprs)
    dataset, variant = split_variant(snakemake.wildcards.dataset)
    record = classifier_metrics(dataset, models, p.goals, p.primary_student,
                                describe_torch_device(device, amp=False), meta["classes"],
                                n_windows=len(test), ids=ids, held_out=p.held_out,
                                fprs=p.ids.fprs, variant=variant)
    write_metrics(snakemake.output.metrics, record)
    table = pd.DataFrame([{"model": m.model, "role": m.role, "params": m.n_params,
                           "accuracy": m.metrics["accuracy"], "macro_f1": m.primary.value,
                           "auroc_ovr_macro": m.metrics["auroc_ovr_macro"],
                           "latency_batch1_ms": m.metrics["latency_batch1_ms"],
                           "latency_batched_ms": m.metrics["latency_batched_ms"],
                           "speedup_vs_teacher": m.metrics["speedup_vs_teacher"]}
                          for m in record.models])
    with atomic_path(snakemake.output.table) as tmp:
        table.to_csv(tmp, index=False)
    plot_confusion(snakemake.output.confusion,
                   {m.model: m.metrics["confusion_matrix"] for m in record.models},
                   meta["classes"])
    detection = ids_table(ids, p.held_out)
    with atomic_path(snakemake.output.ids) as tmp:
        detection.to_csv(tmp, index=False)
    plot_detection(snakemake.output.detection, detection, p.ids.fprs[0])
    print(table.to_string(index=False))
    print(detection.to_string(index=False))
    for attack, unseen in record.summary["unseen"].items():
        if not unseen["n"]:
            print(f"unseen attack {attack}: no test window, so no detection figures")
            continue
        print(f"unseen attack {attack}: {unseen['n']} test windows, detection at "
              f"{unseen['fpr']} FPR {unseen['detection_rate']}; fusion beats the better single "
              f"detector: {unseen['fusion_beats_best_single']}")
    for line in goal_lines(record):
        print(f"goal {line}")


run_script(main, snakemake, tracked=True)
