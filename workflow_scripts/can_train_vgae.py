"""Train the VGAE anomaly detector of the CAN track on the normal training windows, or a small
VGAE that matches its anomaly scores."""

import torch

from distillery.can.dataset import load_graphs
from distillery.can.models.build import count_parameters, load_classifier, save_classifier
from distillery.can.training import content_digest, fit_vgae
from distillery.io import read_json
from distillery.train.torch_device import describe_torch_device, torch_device
from distillery.workflow import run_script


def main(snakemake) -> None:
    torch.set_num_threads(snakemake.threads)
    p = snakemake.params
    meta = read_json(snakemake.input.meta)
    device = torch_device(p.device)
    print(f"device: {describe_torch_device(device, p.train.amp)}")
    name = snakemake.wildcards.anomaly
    teacher_file = [snakemake.input.teacher] if name == "vgae_student" else []
    teacher = load_classifier(teacher_file[0])[0] if teacher_file else None
    data_key = content_digest(snakemake.input.train, snakemake.input.val, *teacher_file)
    result = fit_vgae(p.arch, p.train, meta, load_graphs(snakemake.input.train),
                      load_graphs(snakemake.input.val), device, p.checkpoints,
                      snakemake.output.history, label=name, data_key=data_key,
                      teacher=teacher)
    info = {"classes": meta["classes"], "n_classes": len(meta["classes"]),
            "best_epoch": result.best_epoch, "epochs_run": result.epochs_run,
            "stopped_early": result.stopped_early, "params": count_parameters(result.model),
            "device": describe_torch_device(device, p.train.amp)}
    save_classifier(snakemake.output.model, result.model, p.arch.as_dict(), info)
    print(f"saved {snakemake.output.model}: {info['params']} parameters, "
          f"best epoch {result.best_epoch}")


run_script(main, snakemake, tracked=True)
