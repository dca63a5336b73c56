"""Electrostatic reference labels from PySCF for frames of a molecular dataset.

For each chosen frame: an SCF (HF, or a DFT functional) in the given basis, then the ESP on
`n_points` vdW-surface points (shells at 1.4-2.0 x the vdW radii), the dipole and the traceless
quadrupole about the centre of mass from the density and the nuclei, and Mulliken charges.
The NPZ is written in the internal units of `distillery.data.electrostatics` under names the
ingest recognises (`R z E mono dipole quadrupole esp esp_grid total_charge`), so it reads with
the default units: E eV, charges e, dipole e·Å, quadrupole e·Å², ESP eV/e, positions Å.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from ase import units

from distillery.data.frames import FrameSet
from distillery.data.generate.xtb_molecule import write_npz
from distillery.electrostatics.physics import centre_of_mass, vdw_surface
from distillery.electrostatics.settings import EspReferenceSettings
from distillery.io import atomic_write


def frame_indices(n_source: int, n_frames: int) -> np.ndarray:
    """`n_frames` indices spread evenly over `n_source` frames (all when there are fewer)."""
    return np.unique(np.linspace(0, n_source - 1, min(n_frames, n_source)).round().astype(int))


def label_frame(numbers: np.ndarray, positions: np.ndarray, grid: np.ndarray,
                settings: EspReferenceSettings, dm0: np.ndarray | None = None
                ) -> tuple[dict[str, Any], np.ndarray]:
    """Labels of one frame (internal units) and its density matrix (the next frame's guess)."""
    from pyscf import dft, gto, scf  # optional: only reference generation needs PySCF

    bohr = units.Bohr
    mol = gto.M(atom=[(int(z), tuple(r)) for z, r in zip(numbers, positions, strict=True)],
                unit="Angstrom", basis=settings.basis, charge=settings.charge, verbose=0)
    if settings.method.upper() == "HF":
        mf = scf.RHF(mol)
    else:
        mf = dft.RKS(mol)
        mf.xc = settings.method
    mf.conv_tol = settings.conv_tol
    energy = mf.kernel(dm0=dm0)
    if not mf.converged:
        raise RuntimeError(f"{settings.method}/{settings.basis}: SCF did not converge")
    dm = mf.make_rdm1()
    coords = mol.atom_coords()  # Bohr
    charges = mol.atom_charges().astype(np.float64)

    grid_b = np.asarray(grid) / bohr
    electronic = -np.einsum("gij,ij->g", mol.intor("int1e_grids", grids=grid_b), dm)
    nuclear = (charges / np.linalg.norm(grid_b[:, None] - coords[None], axis=-1)).sum(axis=1)

    origin = centre_of_mass(positions, numbers) / bohr
    with mol.with_common_orig(origin):
        r = mol.intor_symmetric("int1e_r")
        rr = mol.intor_symmetric("int1e_rr").reshape(3, 3, *dm.shape)
    d = coords - origin
    dipole = charges @ d - np.einsum("xij,ji->x", r, dm)
    second = np.einsum("a,ax,ay->xy", charges, d, d) - np.einsum("xyij,ji->xy", rr, dm)
    theta = 0.5 * (3.0 * second - np.trace(second) * np.eye(3))
    _, mulliken = mf.mulliken_pop(verbose=0)
    return {"E": energy * units.Hartree, "mono": np.asarray(mulliken, np.float64),
            "dipole": dipole * bohr, "quadrupole": theta * bohr**2,
            "esp": (nuclear + electronic) * units.Hartree, "esp_grid": np.asarray(grid),
            "total_charge": float(settings.charge)}, dm


def reference_arrays(frames: FrameSet, settings: EspReferenceSettings, seed: int,
                     log: Callable[[str], None] = print) -> dict[str, np.ndarray]:
    """Labels of `settings.n_frames` frames spread over `frames` (one molecule), stacked."""
    if not frames.is_uniform():
        raise ValueError("ESP reference labels need frames of one molecule")
    rng = np.random.default_rng(seed)
    index = frame_indices(len(frames), settings.n_frames)
    rows: list[dict[str, Any]] = []
    dm = None
    start = time.perf_counter()
    for count, k in enumerate(index):
        numbers, positions = frames.numbers[k], frames.positions[k]
        grid = vdw_surface(positions, numbers, settings.n_points, settings.scales,
                           settings.density, rng)
        labels, dm = label_frame(numbers, positions, grid, settings, dm)
        rows.append(labels)
        if (count + 1) % 10 == 0 or count + 1 == len(index):
            log(f"esp_reference: {count + 1}/{len(index)} frames, "
                f"{time.perf_counter() - start:.1f} s")
    arrays = {key: np.stack([np.asarray(row[key]) for row in rows]) for key in rows[0]}
    return {"R": np.stack([frames.positions[k] for k in index]), "z": frames.numbers[0],
            **arrays, "source_frame": index,
            "theory": np.array(f"{settings.method}/{settings.basis}")}


def generate_reference(frames: FrameSet, path: str | Path, settings: EspReferenceSettings,
                       seed: int, log: Callable[[str], None] = print,
                       compact: bool = False) -> dict[str, Any]:
    """Label frames with PySCF, write the NPZ atomically and return a provenance record
    (with the seconds per frame). `compact`: float arrays as float32 in a compressed archive
    (a file to ship: a quarter of the size, ESP to 1e-7 relative)."""
    import pyscf

    start = time.perf_counter()
    arrays = reference_arrays(frames, settings, seed, log)
    seconds = time.perf_counter() - start
    if compact:
        arrays = {k: v.astype(np.float32) if v.dtype.kind == "f" else v
                  for k, v in arrays.items()}
        with atomic_write(path) as handle:
            np.savez_compressed(handle, **arrays)
    else:
        write_npz(path, arrays)
    return {"generator": "esp_reference", "seed": seed, **settings.model_dump(mode="json"),
            "pyscf": pyscf.__version__, "n_frames": len(arrays["R"]),
            "n_atoms": len(arrays["z"]), "seconds_per_frame": seconds / len(arrays["R"])}
