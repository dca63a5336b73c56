"""`python -m distillery.forcefield.md --model DIR --structure FILE -o traj.extxyz [...]`:
NVE or Langevin MD of a trained or exported force field with the JAX engine.

Starts from seeded Maxwell-Boltzmann velocities at `--temperature`, writes the samples as
extended XYZ (step, time, potential and kinetic energy, temperature and largest force in each
frame's info) and prints a JSON summary (steps/s, compile time, energy drift, mean T).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from ase import Atoms
from ase.io import read

from distillery.errors import DistilleryError, InputError

# command-line names of the MDSettings fields
OPTIONS = {"steps": "steps", "dt": "timestep_fs", "temperature": "temperature",
           "ensemble": "ensemble", "friction": "friction_per_ps",
           "sample_every": "sample_every", "skin": "skin", "chunk_steps": "chunk_steps",
           "seed": "seed"}
HELP = {"steps": "MD steps", "dt": "time step (fs)",
        "temperature": "K: starting velocities and Langevin bath",
        "ensemble": "nve (velocity Verlet) or langevin (BAOAB)",
        "friction": "Langevin friction (1/ps)", "sample_every": "steps between saved frames",
        "skin": "neighbour-list skin (Å)", "chunk_steps": "steps per compiled call",
        "seed": "velocities and Langevin noise"}


def parse(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m distillery.forcefield.md",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True,
                        help="trained model directory (model.yaml) or export (forcefield.json)")
    parser.add_argument("--structure", required=True,
                        help="a structure file ASE reads (xyz, extxyz, traj, ...) or frames "
                             "Parquet")
    parser.add_argument("--index", type=int, default=0, help="frame of --structure to start from")
    parser.add_argument("-o", "--output", required=True, help="trajectory (extended XYZ)")
    # defaults are MDSettings' own: an option left out is not passed on
    for flag, help_text in HELP.items():
        parser.add_argument(f"--{flag.replace('_', '-')}", dest=flag, default=argparse.SUPPRESS,
                            help=help_text)
    return parser.parse_args(argv)


def read_structure(path: str, index: int) -> Atoms:
    """Frame `index` of a frames Parquet file or of any structure file ASE reads."""
    if path.endswith(".parquet"):
        from distillery.data.frames import read_frames

        frames = read_frames(path)
        if not -len(frames) <= index < len(frames):
            raise InputError(path, "--index", index, f"a frame in [0, {len(frames)})")
        return Atoms(numbers=frames.numbers[index], positions=frames.positions[index],
                     cell=None if frames.cell is None else frames.cell[index],
                     pbc=False if frames.pbc is None else frames.pbc[index])
    try:
        return read(path, index=index)
    except (OSError, ValueError, IndexError, StopIteration) as exc:
        raise InputError(path, "structure", f"unreadable ({exc})",
                         "a structure file ASE reads, or frames Parquet") from None


def main(argv: Sequence[str] | None = None) -> int:
    args = parse(argv)
    # JAX loads only once the arguments are known to be good
    from distillery.base_settings import validated
    from distillery.forcefield.md import MDSettings, maxwell_boltzmann, simulate
    from distillery.forcefield.md.potentials import load_potential
    from distillery.forcefield.md.trajectory import summary, write_extxyz

    try:
        given = {OPTIONS[k]: v for k, v in vars(args).items() if k in OPTIONS}
        settings = validated(MDSettings, given, "md options")
        start = read_structure(args.structure, args.index)
        potential = load_potential(args.model, start)
        run = simulate(potential, maxwell_boltzmann(start, settings.temperature, settings.seed),
                       settings)
        write_extxyz(Path(args.output), start, run.trajectory)
    except DistilleryError as exc:
        print(f"ERROR: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(summary(run)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
