"""Generate a reference NPZ (and its provenance or true parameters) for a dataset's `generate`
block: EMT alloy MD, a CG bead chain, GFN2-xTB molecular MD or OpenMM peptide MD."""

from distillery.data.generate import cg_chain, md_emt, openmm_peptide, xtb_molecule
from distillery.data.settings import at_temperature
from distillery.errors import ConfigError
from distillery.io import write_json
from distillery.train.device import enable_compilation_cache
from distillery.workflow import run_script

LABELLED_MD = {"xtb_molecule": xtb_molecule, "openmm_peptide": openmm_peptide}


def main(snakemake) -> None:
    seed, temperature = snakemake.params.seed, snakemake.params.temperature
    # the dataset's temperature is the system's; a generator block may still set its own
    settings = at_temperature(snakemake.params.generate, temperature)
    out = snakemake.output
    if settings.kind in LABELLED_MD:
        truth = LABELLED_MD[settings.kind].generate(out.npz, settings, seed)
        write_json(out.truth, {"generator": settings.kind, "seed": seed, **truth})
        return
    if settings.kind == "md_emt":
        arrays = md_emt.simulate_alloy(settings, seed)
        truth = {"generator": settings.kind, "seed": seed,
                 "calculator": "ase.calculators.emt.EMT",
                 **settings.model_dump(mode="json", exclude={"kind"})}
    elif settings.kind == "cg_chain":
        if temperature is None:
            raise ConfigError(f"datasets.{snakemake.wildcards.dataset}.temperature: missing, "
                              "expected the temperature (K) of the generated chain")
        enable_compilation_cache(snakemake.params.cache_dir)
        potential = cg_chain.ChainPotential()
        arrays = cg_chain.simulate_chain(settings, potential, temperature, seed)
        truth = {"generator": settings.kind, "seed": seed,
                 **cg_chain.truth(potential, temperature)}
    else:
        raise ConfigError(f"generate.kind {settings.kind!r} does not make an NPZ file")
    md_emt.write_npz(out.npz, arrays)
    write_json(out.truth, truth)


run_script(main, snakemake)
