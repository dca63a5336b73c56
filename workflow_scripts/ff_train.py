"""Train a force field (teacher, a distilled student or a baseline) on a dataset split; a
student's train_info.json records the distillation set it learnt from."""

from pathlib import Path

import numpy as np

from distillery.data.frames import read_frames
from distillery.data.splits import read_splits
from distillery.forcefield.labelling import composition, mixed_labels
from distillery.io import write_json
from distillery.models.model import ForceField, save_model
from distillery.train.device import enable_compilation_cache
from distillery.train.ff_loop import fit
from distillery.train.history import MetricsHistory
from distillery.workflow import run_script


def main(snakemake) -> None:
    params, out = snakemake.params, snakemake.output
    enable_compilation_cache(params.cache_dir)
    frames = read_frames(snakemake.input.frames)
    splits = read_splits(snakemake.input.splits)
    train, val = frames.subset(splits["train"]), frames.subset(splits["val"])
    labels, trained_on = None, {}
    if hasattr(snakemake.input, "distill"):
        # the student learns the teacher's labels on training + augmented frames
        distilled = read_frames(snakemake.input.distill)
        labels = mixed_labels(distilled, train, params.teacher_weight)
        if hasattr(snakemake.input, "hvp"):
            hvp = np.load(snakemake.input.hvp)
            cuts = np.cumsum(distilled.n_atoms)[:-1]
            labels.extras = {"hvp_dir": np.split(hvp["directions"], cuts),
                             "hvp_target": np.split(hvp["targets"], cuts)}
        train = distilled
        trained_on = {"distill": {**composition(distilled),
                                  "teacher_weight": params.teacher_weight,
                                  "hvp": hasattr(snakemake.input, "hvp")}}
    model = ForceField(params.role.model)
    history = MetricsHistory(out.history_csv, out.history_parquet)
    result = fit(model, train, val, params.role.train, params.checkpoints, history,
                 train_labels=labels)
    if not result.is_main:
        return  # the other ranks of a multi-process run: rank 0 writes the outputs
    info = {"role": snakemake.wildcards.model, **result.info, **trained_on}
    save_model(Path(out.model).parent, model, result.params, meta={"training": info})
    write_json(out.info, info)


run_script(main, snakemake, tracked=True)
