"""Fit priors on the training frames; write them (NPZ + readable YAML), a summary and plots."""

from ase import units

from distillery.cg.energy import KINDS
from distillery.cg.prior_fit import fit_priors
from distillery.cg.mapping import BeadInfo
from distillery.cg.plots import plot_fit, plot_placeholder
from distillery.cg.serialise import priors_to_dict, save_priors
from distillery.cg.topology import from_config
from distillery.cg.truth import parameter_recovery, read_reference_terms
from distillery.data.frames import read_frames
from distillery.data.splits import read_splits
from distillery.errors import InputError
from distillery.io import write_json, write_yaml
from distillery.workflow import run_script


def main(snakemake) -> None:
    inp, out, params = snakemake.input, snakemake.output, snakemake.params
    dataset = snakemake.wildcards.dataset
    if params.temperature is None:
        raise InputError("config", f"datasets.{dataset}.temperature", "nothing",
                         "the reference temperature in K (needed for Boltzmann inversion)")
    kt = units.kB * float(params.temperature)
    cg = params.cg
    frames = read_frames(inp.frames)
    train = frames.subset(read_splits(inp.splits)["train"])
    topology = from_config(cg, BeadInfo.load(inp.beads), "config")
    settings = cg
    print(f"fitting {settings.fit} priors on {len(train)} training frames: "
          f"{len(topology.bonds)} bonds, {len(topology.angles)} angles, "
          f"{len(topology.dihedrals)} dihedrals, {len(topology.pairs)} non-bonded pairs")
    priors, hists = fit_priors(train.stacked_positions(), topology, kt, settings)
    for kind in KINDS:
        print(f"{kind} classes: {sorted(hists.get(kind, {}))}")
    save_priors(out.priors, priors)
    readable = priors_to_dict(priors)
    if priors.kind == "spline":
        readable["tables"] = "spline tables are stored in priors.npz"
    write_yaml(out.readable, readable)

    reference = read_reference_terms(inp.truth[0], settings.dihedral_order) if inp.truth else {}
    summary = {"dataset": dataset, "kind": priors.kind, "n_train_frames": len(train),
               "temperature": float(params.temperature), "kT": kt,
               "terms": {k: readable[k] for k in KINDS},
               "mean": {kind: {cls: float(h.mean) for cls, h in by_class.items()}
                        for kind, by_class in hists.items()}}
    if reference:
        summary["recovery"] = parameter_recovery(priors, hists, reference)
        for name, row in summary["recovery"].items():
            print(f"{name}: " + ", ".join(f"{k} {v:.4g}" for k, v in row.items()))
    write_json(out.summary, summary)

    for name in KINDS:
        path = out[f"plot_{name}"]
        if name not in hists:
            plot_placeholder(path, f"no {name} interactions in this molecule")
            continue
        plot_fit(path, name, hists[name], priors.terms.get(name), kt, reference.get(name),
                 align=name != "pair")


run_script(main, snakemake)
