"""Generate a reference NPZ (and its provenance or true parameters) for a dataset."""

from distillery.data.generate.frames import generate_frames
from distillery.train.jax_device import enable_compilation_cache
from distillery.workflow import run_script


def main(snakemake) -> None:
    params, out = snakemake.params, snakemake.output
    if params.generate.kind == "cg_chain":  # the chain is simulated in JAX
        enable_compilation_cache(params.cache_dir)
    generate_frames(snakemake.wildcards.dataset, params.generate, params.temperature,
                    params.seed, out.npz, out.truth)


run_script(main, snakemake)
