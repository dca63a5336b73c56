"""Train one CAN classifier: the teacher, or a student with (KD) or without the teacher."""

import torch

from distillery.can.curriculum import model_curriculum
from distillery.can.dataset import load_graphs
from distillery.can.models.build import count_parameters, load_classifier, save_classifier
from distillery.can.training import (
    content_digest,
    fit_classifier,
    with_teacher,
    without_classes,
)
from distillery.io import read_json
from distillery.train.data_parallel_torch import gpu_ranks, launched_rank, relaunch_ranks
from distillery.train.distributed import process_info
from distillery.train.settings import run_seed
from distillery.train.torch_device import describe_torch_device, torch_device
from distillery.train.torch_loop import predict_logits
from distillery.workflow import run_script


def main(snakemake) -> None:
    torch.set_num_threads(snakemake.threads)
    p = snakemake.params
    # one DDP rank per visible GPU, each running this script; rank 0 writes the outputs
    if relaunch_ranks(gpu_ranks(p.device)):
        return
    meta = read_json(snakemake.input.meta)
    device = torch_device(p.device)
    print(f"device: {describe_torch_device(device, p.train.amp)}")
    # the inputs' content decides whether a checkpoint is resumed (rerun on other data: restart)
    teacher_file = [snakemake.input.teacher] if p.kd is not None else []
    data_key = [content_digest(snakemake.input.train, snakemake.input.val, *teacher_file),
                sorted(p.held_out)]
    # held-out attacks stay unseen: out of training and of the validation that picks epochs
    train_set, val_set = (without_classes(load_graphs(path), meta["classes"], p.held_out)
                          for path in (snakemake.input.train, snakemake.input.val))
    if p.kd is not None:
        teacher, _ = load_classifier(snakemake.input.teacher)
        batch = p.train.batch_size
        teacher = teacher.to(device)
        train_set = with_teacher(train_set, predict_logits(teacher, train_set, batch, device))
        val_set = with_teacher(val_set, predict_logits(teacher, val_set, batch, device))
    curriculum = None
    if p.curriculum.enabled:
        c = p.curriculum
        curriculum = model_curriculum(
            c, train_set, meta["classes"], distilled=p.kd is not None, held_out=p.held_out,
            seed=run_seed(p.train.seed), windows_path=snakemake.input.get("windows"),
            label_threshold=meta["windows"]["label_threshold"])
        print(f"curriculum: on, the easiest windows of each class by "
              f"{c.measure(p.kd is not None)} first: {c.start_fraction} of them at epoch 1, "
              f"all from epoch {c.epochs_to_full} ({c.pacing} pacing); each epoch's share "
              f"of the training windows is its curriculum_fraction")
    result = fit_classifier(
        p.arch, p.train, meta, train_set, val_set, device, p.checkpoints,
        snakemake.output.history, kd=p.kd, label=p.name,
        data_key=data_key, curriculum=curriculum,
    )
    if not process_info().is_main:
        return
    info = {"classes": meta["classes"], "n_classes": len(meta["classes"]),
            "kd": p.kd and p.kd.as_dict(),
            "curriculum": p.curriculum.as_dict() if p.curriculum.enabled else None,
            "best_epoch": result.best_epoch, "epochs_run": result.epochs_run,
            "stopped_early": result.stopped_early, "params": count_parameters(result.model),
            "device": describe_torch_device(device, p.train.amp),
            "data_parallel_ranks": process_info().world_size}
    save_classifier(snakemake.output.model, result.model, p.arch.as_dict(), info)
    print(f"saved {snakemake.output.model}: {info['params']} parameters, "
          f"best epoch {result.best_epoch}")


# a rank that relaunch_ranks started: its launcher keeps the log and the job's records
if launched_rank():
    main(snakemake)
else:
    run_script(main, snakemake, tracked=True)
