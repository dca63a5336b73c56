"""Write the fitted prior as an OpenMM System (XML) with a PDB of the first CG frame, after
checking it against the JAX prior."""

from distillery.cg.openmm_export import export_openmm
from distillery.io import write_json
from distillery.workflow import run_script


def main(snakemake) -> None:
    inp, out = snakemake.input, snakemake.output
    check = export_openmm(inp.priors, inp.frames, out.system, out.pdb)
    print(f"OpenMM System against the prior on {check['n_frames']} frames: energies within "
          f"{check['energy_rel_error']:.2g}, forces within {check['force_rel_error']:.2g}")
    write_json(out.check, check)


run_script(main, snakemake)
