"""Generate a long attack-free CAN capture of one generated vehicle in the Car-Hacking CSV
layout, block by block."""

from distillery.data.generate.can_bus import normal_blocks, write_blocks
from distillery.workflow import run_script


def main(snakemake) -> None:
    p = snakemake.params
    frames = write_blocks(snakemake.output[0],
                          normal_blocks(p.duration, seed=p.seed, vehicle=p.vehicle))
    print(f"wrote {frames} attack-free frames ({p.duration} s) of vehicle {p.vehicle} to "
          f"{snakemake.output[0]}")


run_script(main, snakemake)
