"""Sample the distillation frames (training frames, displaced copies, teacher MD), unlabelled."""

from distillery.data.frames import read_frames, write_frames
from distillery.data.splits import read_splits
from distillery.forcefield.labelling import sample_distill_frames
from distillery.forcefield.teachers import load_teacher
from distillery.train.device import enable_compilation_cache
from distillery.workflow import run_script


def main(snakemake) -> None:
    params = snakemake.params
    enable_compilation_cache(params.cache_dir)
    frames = read_frames(snakemake.input.frames)
    train = frames.subset(read_splits(snakemake.input.splits)["train"])
    # the teacher only drives MD here; loading a foundation model costs seconds
    teacher = (load_teacher(params.teacher, snakemake.input.get("teacher"))
               if params.distill.md.starts > 0 else None)
    write_frames(snakemake.output.frames,
                 sample_distill_frames(train, teacher, params.distill, params.seed))


run_script(main, snakemake)
