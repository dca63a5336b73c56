"""Generate a reference NPZ (and its provenance or true parameters) for a dataset."""

from distillery.data.generate.frames import generate_frames
from distillery.workflow import run_script


def main(snakemake) -> None:
    params, out = snakemake.params, snakemake.output
    generate_frames(snakemake.wildcards.dataset, params.generate, params.temperature,
                    params.seed, out.npz, out.truth, params.cache_dir)


run_script(main, snakemake)
