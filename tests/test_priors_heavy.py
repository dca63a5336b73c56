"""Alanine dipeptide on its ten heavy atoms (tests/configs/ala2_heavy.yaml) on a slice of the
shipped reference: bead classes follow the types the user asks for, and prior, delta model and
simulation run end to end with every replica stable (before the Fourier fit was held up where
the data never went, the planar amide torsions' priors had wells tens of eV deep elsewhere on
the circle and every replica blew up within a picosecond)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from distillery.cg.energy import KINDS
from distillery.cg.mapping import BeadInfo, from_config
from distillery.cg.serialise import load_priors
from distillery.cg.settings import CGSettings
from distillery.cg.simulation import cg_simulate
from distillery.cg.steps import cg_fit_priors, cg_map, cg_train_delta
from distillery.cg.topology import from_bonds
from distillery.data.frames import write_frames
from distillery.data.generate import shipped_file
from distillery.data.npz import read_npz
from distillery.data.splits import write_splits
from distillery.settings import load_files

CONFIG = ("config/config.yaml", "tests/configs/ala2_heavy.yaml")
NAME = "ala2_heavy"


@pytest.fixture(scope="module")
def settings() -> CGSettings:
    return load_files(CONFIG).cg(NAME)


@pytest.fixture(scope="module")
def heavy(settings, tmp_path_factory) -> dict[str, Path]:
    """600 frames of the 6 ns (one every 10 ps), mapped and fitted with the example's
    settings; training, validation and test blocks in time."""
    root = tmp_path_factory.mktemp("heavy")
    dataset = load_files(CONFIG).dataset(NAME)
    atoms = read_npz(shipped_file(dataset.generate.shipped),
                     dataset.units.model_dump(exclude_none=True))
    write_frames(root / "atoms.parquet", atoms.subset(np.arange(0, 6000, 10)))
    write_splits(root / "splits.json", {"train": np.arange(400), "val": np.arange(400, 450),
                                        "test": np.arange(450, 600)})
    cg_map(root / "atoms.parquet", settings.mapping, root / "frames.parquet",
           root / "beads.json")
    cg_fit_priors(root / "frames.parquet", root / "beads.json", root / "splits.json",
                  settings.fitting(), 300.0, dataset=NAME, out_priors=root / "priors.npz",
                  out_readable=root / "priors.yaml", out_summary=root / "fit.json",
                  out_plots={k: root / f"fit_{k}.svg" for k in KINDS})
    return {"root": root, "frames": root / "frames.parquet", "splits": root / "splits.json",
            "beads": root / "beads.json", "priors": root / "priors.npz"}


def test_same_named_beads_of_different_residues_share_a_class_only_when_asked(settings,
                                                                             heavy):
    beads = BeadInfo.load(heavy["beads"])
    assert beads.labels == ("ACE1:CH3", "ACE1:C", "ACE1:O", "ALA2:N", "ALA2:CA", "ALA2:CB",
                            "ALA2:C", "ALA2:O", "NME3:N", "NME3:C")
    # residue_name: the two amide C-N bonds (ACE C - ALA N, ALA C - NME N) and NME's N-CH3
    # bond each have their own class
    bonds = load_priors(heavy["priors"]).terms["bond"]
    assert {"ACE:C-ALA:N", "ALA:C-NME:N", "NME:C-NME:N"} <= set(bonds)
    assert len(bonds) == 9  # one class per bond
    numbers = np.array([z for z in (6, 1, 1, 1, 6, 8, 7, 1, 6, 1, 6, 1, 1, 1, 6, 8, 7, 1, 6,
                                    1, 1, 1)])

    def bond_classes(types):
        mapping = from_config(settings.mapping.model_copy(update={"types": types}), numbers)
        names, index = from_bonds(10, mapping.beads.bonds, types=mapping.beads.types
                                  ).classes("bond")
        return {n: [mapping.beads.bonds[i] for i in np.flatnonzero(index == c)]
                for c, n in enumerate(names)}

    # by atom name alone, the user says every C is one type: both amide bonds and the N-CH3
    # bond of NME (whose methyl carbon is named C) share the class C-N
    assert bond_classes("name")["C-N"] == [(1, 3), (6, 8), (8, 9)]
    # one type per bead: shared exactly where the user gives the same name
    own = ("CH3", "C", "O", "N", "CA", "CB", "C", "O", "N", "CH3")
    assert bond_classes(own)["C-N"] == [(1, 3), (6, 8)]
    assert bond_classes(own)["CH3-N"] == [(8, 9)]


def test_ten_heavy_atom_beads_simulate_stably(settings, heavy, tmp_path):
    root = heavy["root"]
    delta = settings.delta.model_copy(update={"model": settings.delta.model.model_copy(
        update={"width": 16, "depth": 2}), "train": settings.delta.train.model_copy(
        update={"epochs": 2, "checkpoint_every": 0})})
    delta_dir = tmp_path / "delta"
    cg_train_delta(heavy["frames"], heavy["splits"], heavy["priors"], delta, tmp_path / "ck",
                   out_model=delta_dir / "model.npz", out_history_csv=tmp_path / "h.csv",
                   out_history_parquet=tmp_path / "h.parquet", out_info=tmp_path / "info.json",
                   out_priors=delta_dir / "priors.npz",
                   out_priors_readable=delta_dir / "priors.yaml")
    simulate = settings.simulate.model_copy(update={"steps": 2500, "stride": 50, "starts": 8})
    outputs = {f"out_{name}": tmp_path / f"sim_{name}.{suffix}" for name, suffix in
               (("summary", "json"), ("table", "csv"), ("distributions", "svg"),
                ("fes", "svg"), ("trajectory", "npz"))}
    summary = cg_simulate(heavy["frames"], heavy["splits"], root / "priors.npz", simulate,
                          ("full", "prior-only"), delta=delta_dir / "model.npz",
                          full_priors=delta_dir / "priors.npz", **outputs)
    for figures in (summary, summary["prior_only"]):
        stability = figures["stability"]
        assert stability["stable"] and stability["finite"]
        assert stability["stable_replicas"] == stability["n_replicas"] == 8
        assert stability["longest_bond"] < stability["max_bond_threshold"]
        # the bonded geometry stays that of the reference
        assert figures["js_divergence"]["bond"] < 0.2
        assert figures["js_divergence"]["angle"] < 0.2
