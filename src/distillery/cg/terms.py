"""Functional forms of the prior terms, evaluated with numpy (plots) or jax.numpy (energies).

Conventions (stated in every saved prior file): harmonic k/2 (x - x0)^2; dihedral Fourier
series sum_n a_n cos(n phi) + b_n sin(n phi); repulsion epsilon (sigma / r)^exponent.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

CONVENTION = ("harmonic: k/2 (x - x0)^2; dihedral: sum_n a_n cos(n phi) + b_n sin(n phi); "
              "repulsion: epsilon (sigma / r)^exponent; spline: cubic Hermite on a uniform grid")


@dataclass(frozen=True)
class HarmonicTerm:
    k: float
    x0: float

    def energy(self, x: Any, xp: Any = np) -> Any:
        return 0.5 * self.k * (x - self.x0) ** 2

    def to_dict(self) -> dict[str, Any]:
        return {"form": "harmonic", "k": float(self.k), "x0": float(self.x0)}


@dataclass(frozen=True)
class FourierTerm:
    a: tuple[float, ...]  # cos(n phi) coefficients, n = 1..order
    b: tuple[float, ...]  # sin(n phi) coefficients

    def energy(self, phi: Any, xp: Any = np) -> Any:
        n = np.arange(1, np.shape(self.a)[-1] + 1)
        angle = phi[..., None] * n
        return xp.sum(xp.asarray(self.a) * xp.cos(angle) + xp.asarray(self.b) * xp.sin(angle),
                      axis=-1)

    def to_dict(self) -> dict[str, Any]:
        return {"form": "fourier", "a": [float(v) for v in self.a],
                "b": [float(v) for v in self.b]}


@dataclass(frozen=True)
class RepulsionTerm:
    epsilon: float
    sigma: float
    exponent: int

    def energy(self, r: Any, xp: Any = np) -> Any:
        return self.epsilon * (self.sigma / r) ** self.exponent

    def to_dict(self) -> dict[str, Any]:
        return {"form": "repulsion", "epsilon": float(self.epsilon), "sigma": float(self.sigma),
                "exponent": int(self.exponent)}


@dataclass(frozen=True)
class SplineTerm:
    """Cubic Hermite interpolation of tabulated values; periodic (dihedrals) or continued
    beyond the grid by the harmonic `tail`, shifted to meet the grid ends."""

    start: float
    step: float
    values: np.ndarray
    slopes: np.ndarray
    periodic: bool
    tail: HarmonicTerm | None = None

    def energy(self, x: Any, xp: Any = np) -> Any:
        n = np.shape(self.values)[-1]  # knots: stacked tables are (interactions, knots)
        t = (x - self.start) / self.step
        if self.periodic:
            # the grid spans one period: node n wraps onto node 0
            t = xp.mod(t, n)
            i = xp.clip(xp.floor(t), 0, n - 1).astype(np.int32)
            j = xp.mod(i + 1, n)
        else:
            i = xp.clip(xp.floor(t), 0, n - 2).astype(np.int32)
            j = i + 1
        u = xp.clip(t - i, 0.0, 1.0)
        y0, y1 = _lookup(self.values, i, xp), _lookup(self.values, j, xp)
        m0, m1 = _lookup(self.slopes, i, xp) * self.step, _lookup(self.slopes, j, xp) * self.step
        u2, u3 = u * u, u * u * u
        inside = ((2 * u3 - 3 * u2 + 1) * y0 + (u3 - 2 * u2 + u) * m0
                  + (-2 * u3 + 3 * u2) * y1 + (u3 - u2) * m1)
        if self.periodic or self.tail is None:
            return inside
        lo, hi = self.start, self.start + (n - 1) * self.step
        below = self.tail.energy(x, xp) - self.tail.energy(lo, xp) + self.values[..., 0]
        above = self.tail.energy(x, xp) - self.tail.energy(hi, xp) + self.values[..., -1]
        return xp.where(x < lo, below, xp.where(x > hi, above, inside))

    def to_arrays(self) -> dict[str, np.ndarray]:
        tail = (self.tail.k, self.tail.x0) if self.tail else (np.nan, np.nan)
        return {"start": np.float64(self.start), "step": np.float64(self.step),
                "values": self.values, "slopes": self.slopes,
                "periodic": np.bool_(self.periodic), "tail": np.asarray(tail, np.float64)}

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray]) -> SplineTerm:
        k, x0 = arrays["tail"]
        return cls(float(arrays["start"]), float(arrays["step"]),
                   np.asarray(arrays["values"], np.float64),
                   np.asarray(arrays["slopes"], np.float64), bool(arrays["periodic"]),
                   None if np.isnan(k) else HarmonicTerm(float(k), float(x0)))


def _lookup(table: np.ndarray, index: Any, xp: Any) -> Any:
    """table[index] for one table, or row m of stacked tables (n, grid) for interaction m."""
    table = xp.asarray(table)
    if table.ndim == 1:
        return table[index]
    return table[np.arange(table.shape[0]), index]


def _stack(values: Sequence[Any]) -> Any:
    """One array of per-class parameters: numpy, or JAX where a parameter is a JAX array (the
    trainable priors of `cg.trainable`, traced while training)."""
    if any(isinstance(v, jax.Array) for v in values):
        return jnp.stack([jnp.asarray(v) for v in values])
    return np.array(values)


def gather(terms: Sequence[Any], index: np.ndarray) -> Any:
    """One term of the same form whose parameters are arrays over interactions, those of
    `terms[index[m]]` for interaction m: a whole class-resolved kind evaluates in one call."""
    first = terms[0]
    if isinstance(first, HarmonicTerm):
        return HarmonicTerm(_stack([t.k for t in terms])[index],
                            _stack([t.x0 for t in terms])[index])
    if isinstance(first, FourierTerm):
        return FourierTerm(_stack([t.a for t in terms])[index],
                           _stack([t.b for t in terms])[index])
    if isinstance(first, RepulsionTerm):
        return RepulsionTerm(_stack([t.epsilon for t in terms])[index],
                             _stack([t.sigma for t in terms])[index], first.exponent)
    tails = [t.tail for t in terms]
    tail = None if first.tail is None else gather(tails, index)
    return SplineTerm(np.array([t.start for t in terms])[index],
                      np.array([t.step for t in terms])[index],
                      np.stack([t.values for t in terms])[index],
                      np.stack([t.slopes for t in terms])[index], first.periodic, tail)
