"""NVE and Langevin MD of one exported force field from test-split structures."""

from pathlib import Path

from ase import Atoms

from distillery.data.frames import read_frames
from distillery.data.splits import read_splits
from distillery.forcefield.ase_calculator import DistilleryCalculator
from distillery.forcefield.md_stability import (
    ENSEMBLES,
    run_md,
    save_trajectories,
    summarise,
)
from distillery.forcefield.teachers import load_teacher
from distillery.io import write_json
from distillery.workflow import run_script


def main(snakemake) -> None:
    settings, out = snakemake.params.md, snakemake.output
    frames = read_frames(snakemake.input.frames)
    starts = read_splits(snakemake.input.splits)["test"][:settings.starts]
    if hasattr(snakemake.input, "program"):
        calculator = DistilleryCalculator(Path(snakemake.input.program).parent)
    else:
        teacher = load_teacher(snakemake.params.teacher, snakemake.input.get("teacher"))
        calculator = teacher.calculator()
    trajectories, summaries = [], []
    for i, k in enumerate(starts):
        atoms = Atoms(numbers=frames.numbers[k], positions=frames.positions[k],
                      cell=None if frames.cell is None else frames.cell[k],
                      pbc=False if frames.pbc is None else frames.pbc[k])
        for ensemble in ENSEMBLES:
            print(f"{snakemake.wildcards.model}: {ensemble} from test frame {k}", flush=True)
            run = run_md(atoms, calculator, ensemble, settings,
                         seed=snakemake.params.seed + i, progress_every=max(settings.steps // 5, 1))
            trajectories.append(run)
            summaries.append({"start_frame": int(k), **summarise(run, settings)})
            print(f"  {summaries[-1]}", flush=True)
    save_trajectories(out.trajectories, trajectories)
    write_json(out.summary, {"model": snakemake.wildcards.model, "settings": settings.as_dict(),
                             "runs": summaries})


run_script(main, snakemake)
