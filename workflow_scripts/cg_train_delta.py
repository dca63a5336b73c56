"""Train the ML force field on the residual of the priors (reference minus prior)."""

from pathlib import Path

from distillery.cg.delta import train_delta
from distillery.cg.serialise import load_priors
from distillery.data.frames import read_frames
from distillery.data.splits import read_splits
from distillery.io import write_json
from distillery.models.model import save_model
from distillery.train.device import enable_compilation_cache
from distillery.train.history import MetricsHistory
from distillery.workflow import run_script


def main(snakemake) -> None:
    inp, out, params = snakemake.input, snakemake.output, snakemake.params
    enable_compilation_cache(params.cache_dir)
    frames = read_frames(inp.frames)
    splits = read_splits(inp.splits)
    priors = load_priors(inp.priors)
    history = MetricsHistory(out.history_csv, out.history_parquet)
    model, result = train_delta(params.delta.model, params.delta.train,
                                frames.subset(splits["train"]), frames.subset(splits["val"]),
                                priors, params.checkpoints, history)
    if not result.is_main:
        return  # the other ranks of a multi-process run: rank 0 writes the outputs
    info = {"role": "delta", "target": "reference minus prior", **result.info}
    save_model(Path(out.model).parent, model, result.params, meta={"training": info})
    write_json(out.info, info)


run_script(main, snakemake, tracked=True)
