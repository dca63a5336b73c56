"""Radial distribution functions g(r) of structures and their distance to a reference."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def pair_distances(positions: np.ndarray, cell: np.ndarray | None, pbc: np.ndarray | None
                   ) -> np.ndarray:
    """Distances of all unordered pairs, minimum image along periodic axes (Å)."""
    positions = np.asarray(positions, np.float64)
    i, j = np.triu_indices(len(positions), k=1)
    delta = positions[j] - positions[i]
    if cell is not None and pbc is not None and np.any(pbc):
        cell = np.asarray(cell, np.float64)
        fractional = delta @ np.linalg.inv(cell)
        fractional -= np.where(np.asarray(pbc, bool), np.round(fractional), 0.0)
        delta = fractional @ cell
    return np.linalg.norm(delta, axis=1)


def radial_distribution(positions: Sequence[np.ndarray], cell: np.ndarray | None,
                        pbc: np.ndarray | None, r_max: float, n_bins: int
                        ) -> tuple[np.ndarray, np.ndarray]:
    """Bin centres (Å) and g(r) averaged over frames.

    Periodic cell: normalised by the ideal-gas pair count so g -> 1 at large r; `r_max` should
    stay below half the smallest cell width for the minimum image to be exact. Without a cell
    (a molecule) there is no density: the intramolecular pair-distance density is returned
    instead, normalised to integrate to the fraction of pairs closer than `r_max` (1/Å).
    """
    edges = np.linspace(0.0, r_max, n_bins + 1)
    counts = np.zeros(n_bins)
    for frame in positions:
        counts += np.histogram(pair_distances(frame, cell, pbc), bins=edges)[0]
    n_atoms = len(positions[0])
    if cell is None or pbc is None or not np.any(pbc):
        n_pairs = n_atoms * (n_atoms - 1) // 2
        return 0.5 * (edges[1:] + edges[:-1]), counts / (n_pairs * len(positions) * np.diff(edges))
    density = n_atoms / abs(np.linalg.det(np.asarray(cell, np.float64)))
    shell = 4.0 / 3.0 * np.pi * (edges[1:] ** 3 - edges[:-1] ** 3)
    ideal = 0.5 * n_atoms * density * shell * len(positions)
    return 0.5 * (edges[1:] + edges[:-1]), counts / ideal


def rdf_distance(g: np.ndarray, g_ref: np.ndarray, r: np.ndarray) -> float:
    """Integrated absolute difference ∫|g - g_ref| dr over the binned range (Å)."""
    return float(np.sum(np.abs(g - g_ref)) * (r[1] - r[0]))
