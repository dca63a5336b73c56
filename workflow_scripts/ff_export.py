"""Export a trained force field to StableHLO + parameters and check it on test frames."""

from pathlib import Path

from distillery.data.frames import read_frames
from distillery.data.splits import read_splits
from distillery.errors import DistilleryError
from distillery.forcefield.export.forcefield import compare_exported, export_trained
from distillery.forcefield.export.jax_loader import ExportedForceField
from distillery.io import write_json
from distillery.workflow import run_script


def main(snakemake) -> None:
    cfg, out = snakemake.params.export, snakemake.output
    model_name = snakemake.wildcards.model
    directory = Path(out.meta).parent
    export_trained(Path(snakemake.input.model).parent, directory, cfg.n_atoms,
                   float64=cfg.float64, meta={"role": model_name})
    frames = read_frames(snakemake.input.frames)
    test = read_splits(snakemake.input.splits)["test"][:cfg.check_frames]
    diffs = compare_exported(ExportedForceField(directory), Path(snakemake.input.model).parent,
                             frames.subset(test))
    tolerance = cfg.tolerance
    passed = (diffs["max_energy_diff_per_atom"] <= tolerance.energy_per_atom
              and diffs["max_force_diff"] <= tolerance.forces)
    write_json(out.check, {"model": model_name, **diffs, "tolerance": tolerance.as_dict(),
                           "passed": passed})
    print(f"{model_name}: exported vs in-process on {diffs['n_frames']} test frames: "
          f"energy {diffs['max_energy_diff_per_atom']:.2e} eV/atom, "
          f"forces {diffs['max_force_diff']:.2e} eV/Å")
    if not passed:
        raise DistilleryError(f"exported {model_name} differs from the in-process model beyond "
                              f"{tolerance.as_dict()}: {diffs}; see {out.check}")


run_script(main, snakemake)
