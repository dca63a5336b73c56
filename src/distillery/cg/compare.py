"""Distributions of a simulation against reference frames: Jensen–Shannon divergences of
bonds, angles and dihedrals, 2-D free-energy surfaces of two collective variables, basin
populations, and the autocorrelation time that says how many frames are independent."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from distillery.cg import geometry
from distillery.cg.topology import Topology
from distillery.errors import InputError

COLLECTIVE_VARIABLES = ("end_to_end", "radius_of_gyration", "bond_<i>", "angle_<i>",
                        "dihedral_<i>", "a name in cg.simulate.variables")
_DEFINED = {2: geometry.bond_lengths, 3: geometry.angles, 4: geometry.dihedrals}


def js_divergence(p: np.ndarray, q: np.ndarray) -> float:
    """Jensen–Shannon divergence (base 2, in [0, 1]) of two histograms of the same bins."""
    p = np.asarray(p, np.float64).ravel()
    q = np.asarray(q, np.float64).ravel()
    p, q = p / p.sum(), q / q.sum()
    m = 0.5 * (p + q)

    def kl(a: np.ndarray) -> float:
        use = a > 0
        return float(np.sum(a[use] * np.log2(a[use] / m[use])))

    return 0.5 * kl(p) + 0.5 * kl(q)


def collective_variable(name: str, positions: np.ndarray, topology: Topology,
                        variables: Mapping[str, Sequence[int]] | None = None) -> np.ndarray:
    """Values (n_frames,) of a named variable (`variables`: name -> 2, 3 or 4 bead indices, a
    distance, angle or IUPAC dihedral, e.g. phi: [0, 1, 2, 3]), `end_to_end`,
    `radius_of_gyration`, or one bond/angle/dihedral of the topology by index (`dihedral_3`)."""
    beads = (variables or {}).get(name)
    if beads is not None:
        if len(beads) not in _DEFINED or max(beads) >= positions.shape[-2] or min(beads) < 0:
            raise InputError("config", f"cg.simulate.variables.{name}", list(beads),
                             f"2, 3 or 4 bead indices in [0, {positions.shape[-2]})")
        return _DEFINED[len(beads)](positions, np.asarray([beads]))[..., 0]
    if name == "end_to_end":
        return geometry.end_to_end(positions)
    if name == "radius_of_gyration":
        return geometry.radius_of_gyration(positions)
    kind, _, index = name.rpartition("_")
    tables = {"bond": (geometry.bond_lengths, topology.bonds),
              "angle": (geometry.angles, topology.angles),
              "dihedral": (geometry.dihedrals, topology.dihedrals)}
    if kind in tables and index.isdigit() and int(index) < len(tables[kind][1]):
        fn, table = tables[kind]
        return fn(positions, table[int(index) : int(index) + 1])[..., 0]
    raise InputError("config", "cg.simulate.fes", name,
                     f"one of {COLLECTIVE_VARIABLES} with an index present in the topology")


@dataclass
class Histograms:
    """Reference and simulated histograms on shared bins (1-D or 2-D)."""

    edges: tuple[np.ndarray, ...]
    reference: np.ndarray
    simulated: np.ndarray

    @property
    def divergence(self) -> float:
        return js_divergence(self.reference, self.simulated)


def _range(*arrays: np.ndarray) -> tuple[float, float]:
    values = np.concatenate([np.ravel(a) for a in arrays])
    values = values[np.isfinite(values)]
    return float(values.min()), float(values.max())


def coordinate_histograms(reference: np.ndarray, simulated: np.ndarray, topology: Topology,
                          bins: int) -> dict[str, Histograms]:
    """Pooled bond, angle and dihedral histograms of reference and simulated frames."""
    coords = {"bond": (geometry.bond_lengths, topology.bonds, None),
              "angle": (geometry.angles, topology.angles, (0.0, np.pi)),
              "dihedral": (geometry.dihedrals, topology.dihedrals, (-np.pi, np.pi))}
    out = {}
    for name, (fn, table, fixed) in coords.items():
        if not len(table):
            continue
        ref, sim = fn(reference, table).ravel(), fn(simulated, table).ravel()
        value_range = fixed or _range(ref, sim)
        ref_counts, edges = np.histogram(ref, bins, value_range)
        sim_counts, _ = np.histogram(sim[np.isfinite(sim)], bins, value_range)
        out[name] = Histograms((edges,), ref_counts, sim_counts)
    return out


def is_dihedral(name: str, variables: Mapping[str, Sequence[int]] | None = None) -> bool:
    beads = (variables or {}).get(name)
    return len(beads) == 4 if beads is not None else name.startswith("dihedral_")


def is_angular(name: str, variables: Mapping[str, Sequence[int]] | None = None) -> bool:
    """An angle or dihedral (in radians), as opposed to a length."""
    beads = (variables or {}).get(name)
    return len(beads) in (3, 4) if beads is not None else name.startswith(("angle_",
                                                                             "dihedral_"))


def fes_histograms(reference: np.ndarray, simulated: np.ndarray, topology: Topology,
                   names: Sequence[str], bins: int,
                   variables: Mapping[str, Sequence[int]] | None = None) -> Histograms:
    """2-D histograms of two collective variables on shared bins (dihedrals on [-pi, pi])."""
    ref = [collective_variable(n, reference, topology, variables) for n in names]
    sim = [collective_variable(n, simulated, topology, variables) for n in names]
    ranges = [(-np.pi, np.pi) if is_dihedral(n, variables) else _range(r, s)
              for n, r, s in zip(names, ref, sim, strict=True)]
    finite = np.isfinite(sim[0]) & np.isfinite(sim[1])
    ref_counts, x_edges, y_edges = np.histogram2d(ref[0], ref[1], bins, ranges)
    sim_counts, _, _ = np.histogram2d(sim[0][finite], sim[1][finite], bins, ranges)
    return Histograms((x_edges, y_edges), ref_counts, sim_counts)


def free_energy(counts: np.ndarray, kt: float) -> np.ndarray:
    """-kT ln p with the minimum at zero; NaN where nothing was sampled."""
    with np.errstate(divide="ignore"):
        f = -kt * np.log(counts / counts.sum())
    f[~np.isfinite(f)] = np.nan
    return f - np.nanmin(f)


def in_interval(values: np.ndarray, low: float, high: float) -> np.ndarray:
    """low <= value < high; for low > high the interval wraps: value >= low or value < high."""
    if low <= high:
        return (values >= low) & (values < high)
    return (values >= low) | (values < high)


def basin_membership(positions: np.ndarray, topology: Topology,
                     basins: Mapping[str, Mapping[str, Sequence[float]]],
                     variables: Mapping[str, Sequence[int]] | None = None,
                     ) -> dict[str, np.ndarray]:
    """Per basin, whether each frame of `positions` (..., n_beads, 3) lies in its box of
    collective variables (`SimulationSettings.basins`: degrees for angles and dihedrals)."""
    values: dict[str, np.ndarray] = {}
    inside = {}
    for basin, box in basins.items():
        member = np.ones(positions.shape[:-2], bool)
        for name, (low, high) in box.items():
            if name not in values:
                x = collective_variable(name, positions, topology, variables)
                values[name] = np.degrees(x) if is_angular(name, variables) else x
            member &= in_interval(values[name], low, high)
        inside[basin] = member
    return inside


def basin_populations(positions: np.ndarray, topology: Topology,
                      basins: Mapping[str, Mapping[str, Sequence[float]]],
                      variables: Mapping[str, Sequence[int]] | None = None,
                      ) -> dict[str, float]:
    """Fraction of the frames in each basin (a frame may lie in none, or in overlapping
    boxes)."""
    return {name: float(member.mean()) for name, member in
            basin_membership(positions, topology, basins, variables).items()}


def integrated_time(series: np.ndarray, window: float = 5.0) -> float | None:
    """Integrated autocorrelation time, in frames, of `series` (n_frames, n_series): several
    runs of one process (replicas), fluctuations taken about their pooled mean so that
    replicas stuck apart count as slow. tau = 1 + 2 sum_t rho(t), summed up to Sokal's window,
    the first lag M >= `window` tau(M). N / tau frames are effectively independent. None for
    a constant series."""
    x = np.asarray(series, np.float64)
    x = x.reshape(len(x), -1) - x.mean()
    n = len(x)
    spectrum = np.fft.rfft(x, 2 * n, axis=0)
    acf = np.fft.irfft(spectrum * spectrum.conj(), axis=0)[:n].mean(axis=1)
    acf /= np.arange(n, 0, -1)  # unbiased: each lag averages n - t products
    if acf[0] <= 0:
        return None
    tau = 2.0 * np.cumsum(acf / acf[0]) - 1.0
    within = np.arange(n) >= window * tau
    return float(tau[np.argmax(within)] if within.any() else tau[-1])
