"""Test-set metrics, latency and speed-up of every CAN classifier; confusion matrices."""

import pandas as pd
import torch

from distillery.can.dataset import load_graphs
from distillery.can.evaluate import add_speedups, distillation_summary, evaluate_model, role
from distillery.can.models.build import load_classifier
from distillery.can.plots import plot_confusion
from distillery.io import atomic_path, read_json, write_json
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
                        **evaluate_model(model, test, meta["classes"], device, **p.evaluate)}
        print(f"{name}: macro F1 {models[name]['macro_f1']:.4f}, "
              f"{models[name]['latency_batch1_ms']:.3f} ms/window at batch 1")
    add_speedups(models)
    summary = distillation_summary(models, p.primary_student, p.goals)
    write_json(snakemake.output.metrics, {
        "dataset": snakemake.wildcards.dataset, "classes": meta["classes"],
        "device": describe_torch_device(device, amp=False), "test_windows": len(test),
        "summary": summary, "models": models,
    })
    table = pd.DataFrame([{"model": n, "role": m["role"], "params": m["params"],
                           "accuracy": m["accuracy"], "macro_f1": m["macro_f1"],
                           "auroc_ovr_macro": m["auroc_ovr_macro"],
                           "latency_batch1_ms": m["latency_batch1_ms"],
                           "latency_batched_ms": m["latency_batched_ms"],
                           "speedup_vs_teacher": m["speedup_vs_teacher"]}
                          for n, m in models.items()])
    with atomic_path(snakemake.output.table) as tmp:
        table.to_csv(tmp, index=False)
    plot_confusion(snakemake.output.confusion,
                   {n: m["confusion_matrix"] for n, m in models.items()}, meta["classes"])
    print(table.to_string(index=False))
    print(f"summary: {summary}")


run_script(main, snakemake)
