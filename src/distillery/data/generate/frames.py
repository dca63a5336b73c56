"""The `generate_frames` step: a reference NPZ and its provenance (or true parameters) from a
dataset's `generate:` block."""

from __future__ import annotations

from distillery.data.generate import cg_chain, md_crystal, md_emt, openmm_peptide, xtb_molecule
from distillery.data.settings import GenerateSettings, at_temperature
from distillery.errors import ConfigError
from distillery.io import write_json

LABELLED_MD = {"xtb_molecule": xtb_molecule, "openmm_peptide": openmm_peptide,
               "md_crystal": md_crystal}


def generate_frames(dataset: str, generate: GenerateSettings, temperature: float | None,
                    seed: int, npz: str, truth: str) -> None:
    """EMT alloy MD, a CG bead chain, GFN2-xTB molecular MD, OpenMM peptide MD or crystal MD
    under any ASE calculator; the dataset's temperature is the system's unless the generator
    block sets its own."""
    settings = at_temperature(generate, temperature)
    if settings.kind in LABELLED_MD:
        record = LABELLED_MD[settings.kind].generate(npz, settings, seed)
        write_json(truth, {"generator": settings.kind, "seed": seed, **record})
        return
    if settings.kind == "md_emt":
        arrays = md_emt.simulate_alloy(settings, seed)
        record = {"generator": settings.kind, "seed": seed,
                  "calculator": "ase.calculators.emt.EMT",
                  **settings.model_dump(mode="json", exclude={"kind"})}
    elif settings.kind == "cg_chain":
        if temperature is None:
            raise ConfigError(f"datasets.{dataset}.temperature: missing, expected the "
                              "temperature (K) of the generated chain")
        potential = cg_chain.ChainPotential()
        arrays = cg_chain.simulate_chain(settings, potential, temperature, seed)
        record = {"generator": settings.kind, "seed": seed,
                  **cg_chain.truth(potential, temperature)}
    else:
        raise ConfigError(f"generate.kind {settings.kind!r} does not make an NPZ file")
    md_emt.write_npz(npz, arrays)
    write_json(truth, record)
