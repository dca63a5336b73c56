"""Generate a reference NPZ (and its true parameters) for a dataset's `generate` block."""

from distillery.data.generate import cg_chain, md_emt
from distillery.io import write_json
from distillery.workflow import run_script


def main(snakemake) -> None:
    generate = dict(snakemake.params.generate)
    kind = generate.pop("kind")
    seed = snakemake.params.seed
    if kind == "md_emt":
        arrays = md_emt.simulate_alloy(seed=seed, **generate)
        truth = {"generator": kind, "seed": seed, "calculator": "ase.calculators.emt.EMT",
                 **generate}
    elif kind == "cg_chain":
        potential = cg_chain.ChainPotential()
        temperature = float(snakemake.params.temperature)
        arrays = cg_chain.simulate_chain(potential, temperature=temperature, seed=seed,
                                         **generate)
        truth = {"generator": kind, "seed": seed, **cg_chain.truth(potential, temperature)}
    else:
        raise ValueError(f"generate.kind {kind!r} does not make an NPZ file")
    md_emt.write_npz(snakemake.output.npz, arrays)
    write_json(snakemake.output.truth, truth)


run_script(main, snakemake)
