"""MD on the device: velocity Verlet (NVE) and BAOAB Langevin steps compiled into one
`jax.lax.while_loop` per chunk of steps, with the observables (potential and kinetic energy,
largest force, sampled positions) computed in the same program.

Units are ASE's (Å, eV, amu, ASE time), so a step is the same arithmetic as ASE's
`VelocityVerlet`. A potential with a cutoff reads a neighbour list of range cutoff + skin built
on the host (`VerletList`); inside a chunk every step first checks that no atom has moved more
than skin/2 since the list was built, and once one has, the chunk ends with the state before
that step. The host then rebuilds the list at that state and runs the next chunk, so
every force is computed with a list that holds all pairs within the cutoff.

Every step also checks its energy and forces for non-finite values and, when the caller gives
one, a `StopCondition` (e.g. the MD stability criteria): the run ends at the first step where
either holds, with that state as its final one.
"""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass
from functools import partial
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from ase import Atoms, units
from ase.calculators.singlepoint import SinglePointCalculator
from ase.md.velocitydistribution import Stationary, thermalize_momenta

from distillery.forcefield.md.potentials import Potential
from distillery.forcefield.md.settings import MDSettings
from distillery.potentials.neighbours import Neighbours, VerletList

NON_FINITE = "non-finite energy or forces"
STOPPED = "stop condition met"


@dataclass
class Trajectory:
    """Samples of one run; it stops at the first instability."""

    ensemble: str
    time_ps: np.ndarray
    potential: np.ndarray  # eV
    kinetic: np.ndarray  # eV
    max_force: np.ndarray  # eV/Å
    positions: np.ndarray  # (samples, n_atoms, 3) Å
    n_atoms: int
    unstable_at_ps: float | None = None
    reason: str | None = None

    @property
    def temperature(self) -> np.ndarray:
        """Instantaneous kinetic temperature (K), 3N degrees of freedom."""
        return 2.0 * self.kinetic / (3.0 * self.n_atoms * units.kB)


class StopCondition(NamedTuple):
    """`check(positions, energy, forces, *args) -> bool`, traced into every step: the run ends
    at the first state for which it holds (the start included). `check` should be one
    module-level function, so that runs share the compiled program; what differs between runs
    goes in `args` (arrays)."""

    check: Any
    args: tuple[Any, ...] = ()


class MDState(NamedTuple):
    positions: jax.Array  # (N, 3) Å
    momenta: jax.Array  # (N, 3) amu Å / ASE time
    forces: jax.Array  # (N, 3) eV/Å at `positions`
    energy: jax.Array  # potential energy (eV) at `positions`
    step: jax.Array  # steps done
    key: jax.Array  # random key of the Langevin noise


class Sample(NamedTuple):
    step: jax.Array
    potential: jax.Array
    kinetic: jax.Array
    max_force: jax.Array
    positions: jax.Array


@dataclass
class MDRun:
    """A finished run: its samples, the final structure (positions, momenta, and its energy
    and forces as a single-point calculator) and timings."""

    trajectory: Trajectory
    final: Atoms
    steps: int
    seconds: float  # wall time of the stepping, compilation included
    compile_seconds: float  # first chunk's compile time (one per distinct list size)
    list_builds: int

    @property
    def steps_per_s(self) -> float:
        return self.steps / self.seconds if self.seconds > 0 else float("nan")


class Integrator(NamedTuple):
    """Step coefficients, passed to the compiled chunk as arrays (a new time step, bath or
    system reuses the compiled program)."""

    dt: jax.Array  # ASE time units
    masses: jax.Array  # (N,) amu
    c1: jax.Array  # Langevin: momentum kept per step, exp(-friction dt)
    noise: jax.Array  # Langevin: (N, 1) momentum noise, sqrt(m kT (1 - c1^2))


def _integrator(settings: MDSettings, masses: np.ndarray, real: Any) -> Integrator:
    dt = settings.timestep_fs * units.fs
    c1 = float(np.exp(-settings.friction_per_ps / (1000.0 * units.fs) * dt))
    noise = np.sqrt(masses[:, None] * units.kB * settings.temperature * (1.0 - c1**2))
    return Integrator(*(jnp.asarray(v, real) for v in (dt, masses, c1, noise)))


def _drift(state: MDState, ensemble: str, step: Integrator) -> MDState:
    """The part of a step before the force call: first half kick and the position update
    (velocity Verlet: B A; BAOAB: B A O A). The step ends with the second half kick."""
    velocity = 1.0 / step.masses[:, None]
    momenta = state.momenta + 0.5 * step.dt * state.forces
    if ensemble == "nve":
        return state._replace(positions=state.positions + step.dt * momenta * velocity,
                              momenta=momenta)
    key, sub = jax.random.split(state.key)
    positions = state.positions + 0.5 * step.dt * momenta * velocity
    momenta = step.c1 * momenta + step.noise * jax.random.normal(sub, momenta.shape,
                                                                 momenta.dtype)
    positions = positions + 0.5 * step.dt * momenta * velocity
    return state._replace(positions=positions, momenta=momenta, key=key)


def _kinetic(momenta: jax.Array, masses: jax.Array) -> jax.Array:
    return 0.5 * jnp.sum(momenta**2 / masses[:, None])


def _sample(state: MDState, masses: jax.Array) -> Sample:
    return Sample(state.step, state.energy, _kinetic(state.momenta, masses),
                  jnp.sqrt(jnp.max(jnp.sum(state.forces**2, axis=-1))), state.positions)


def _halts(state: MDState, stop: Any, stop_args: tuple[Any, ...]) -> jax.Array:
    """Whether the run must end at `state`: non-finite energy or forces, or the stop check."""
    bad = ~(jnp.isfinite(state.energy) & jnp.all(jnp.isfinite(state.forces)))
    if stop is not None:
        bad = bad | stop(state.positions, state.energy, state.forces, *stop_args)
    return bad


# a chunk's status: running, stopped by an expired list (the host rebuilds it and goes on), or
# halted (non-finite values or the stop condition: the run ends)
RUNNING, EXPIRED, HALTED = 0, 1, 2


@partial(jax.jit, static_argnames=("potential", "ensemble", "n_steps", "sample_every", "stop"))
def _chunk(state: MDState, neighbours: Neighbours | None, reference: jax.Array,
           limit: jax.Array, target: jax.Array, integrator: Integrator,
           stop_args: tuple[Any, ...], *, potential: Potential, ensemble: str, n_steps: int,
           sample_every: int, stop: Any) -> tuple[MDState, Sample, jax.Array]:
    """Up to `n_steps` steps, ending early at step `target`, before a step that would move an
    atom more than `limit` from `reference` (status EXPIRED, the state before it kept) or at a
    state that `_halts` (status HALTED, that state kept, unsampled). Returns the state, the
    samples at the steps that are multiples of `sample_every` (slots of unused samples have
    step -1) and the status.

    A `while_loop` that leaves as soon as the chunk is done, with every step computed
    unconditionally (a `lax.cond` around the force call costs a small model a third of its
    step); only the one step found uncovered is computed in vain."""
    n_slots = -(-n_steps // sample_every)
    first = state.step // sample_every + 1  # the first sample this chunk may take
    masses, dt = integrator.masses, integrator.dt
    empty = _sample(state, masses)
    buffer = jax.tree.map(lambda x: jnp.zeros((n_slots + 1, *x.shape), x.dtype), empty)
    buffer = buffer._replace(step=buffer.step - 1)

    def going(carry: tuple[MDState, jax.Array, Sample, jax.Array]) -> jax.Array:
        state, status, _, done = carry
        return (status == RUNNING) & (state.step < target) & (done < n_steps)

    def step(carry: tuple[MDState, jax.Array, Sample, jax.Array]
             ) -> tuple[MDState, jax.Array, Sample, jax.Array]:
        state, _, buffer, done = carry
        moved = _drift(state, ensemble, integrator)
        displacement = jnp.max(jnp.sum((moved.positions - reference) ** 2, axis=-1))
        covered = displacement <= limit**2
        energy, forces = potential.energy_and_forces(moved.positions, neighbours)
        forces = forces.astype(moved.forces.dtype)
        computed = moved._replace(energy=energy.astype(moved.energy.dtype), forces=forces,
                                  momenta=moved.momenta + 0.5 * dt * forces,
                                  step=moved.step + 1)
        new = jax.tree.map(lambda a, b: jnp.where(covered, a, b), computed, state)
        halted = covered & _halts(new, stop, stop_args)
        # a new multiple of sample_every fills its slot; anything else writes the spare slot
        taken = covered & ~halted & (new.step % sample_every == 0)
        slot = jnp.where(taken, new.step // sample_every - first, n_slots)
        buffer = jax.tree.map(lambda b, x: b.at[slot].set(x), buffer, _sample(new, masses))
        status = jnp.where(halted, HALTED, jnp.where(covered, RUNNING, EXPIRED))
        return new, status.astype(jnp.int32), buffer, done + 1

    state, status, buffer, _ = jax.lax.while_loop(
        going, step, (state, jnp.asarray(RUNNING, jnp.int32), buffer, jnp.asarray(0, jnp.int32)))
    return state, jax.tree.map(lambda b: b[:n_slots], buffer), status


@partial(jax.jit, static_argnames=("potential", "stop"))
def _start(positions: jax.Array, neighbours: Neighbours | None, stop_args: tuple[Any, ...], *,
           potential: Potential, stop: Any) -> tuple[jax.Array, jax.Array, jax.Array]:
    """Energy and forces at the start, and whether the run must end there."""
    energy, forces = potential.energy_and_forces(positions, neighbours)
    energy, forces = energy.astype(positions.dtype), forces.astype(positions.dtype)
    bad = ~(jnp.isfinite(energy) & jnp.all(jnp.isfinite(forces)))
    if stop is not None:
        bad = bad | stop(positions, energy, forces, *stop_args)
    return energy, forces, bad


def maxwell_boltzmann(atoms: Atoms, temperature: float, seed: int) -> Atoms:
    """A copy of `atoms` with seeded Maxwell-Boltzmann momenta at `temperature` (K), centre of
    mass at rest (as the MD stability runs start)."""
    atoms = atoms.copy()
    thermalize_momenta(atoms, temperature_K=temperature, rng=np.random.default_rng(seed))
    Stationary(atoms)
    return atoms


def simulate(potential: Potential, atoms: Atoms, settings: MDSettings,
             stop: StopCondition | None = None) -> MDRun:
    """`settings.steps` steps from `atoms` (positions and momenta as given; see
    `maxwell_boltzmann`). Samples every `sample_every` steps, the start included; stops early
    at a non-finite energy or force (reason `NON_FINITE`), at the first state that meets
    `stop` (reason `STOPPED`; the final structure is that state), or when one step moves an
    atom more than skin/2."""
    double = potential.float64 or settings.float64
    x64 = jax.enable_x64(True) if double else contextlib.nullcontext()
    with x64:
        return _simulate(potential, atoms, settings, stop)


def _simulate(potential: Potential, atoms: Atoms, settings: MDSettings,
              stop: StopCondition | None) -> MDRun:
    real = jnp.zeros(()).dtype
    check, stop_args = (None, ()) if stop is None else (stop.check, tuple(stop.args))
    cell, pbc = atoms.cell.array, atoms.pbc
    integrator = _integrator(settings, atoms.get_masses(), real)
    verlet = None if potential.cutoff is None else VerletList(potential.cutoff, settings.skin)
    positions = np.asarray(atoms.positions, np.float64)

    def fresh_list(positions: np.ndarray) -> tuple[Any, jax.Array, jax.Array]:
        if verlet is None:
            return None, jnp.zeros((1, 3), real), jnp.asarray(np.inf, real)
        neighbours = verlet.build(positions, cell, pbc)
        return (jax.device_put(neighbours), jnp.asarray(verlet.reference, real),
                jnp.asarray(verlet.max_displacement, real))

    start = time.perf_counter()
    neighbours, reference, limit = fresh_list(positions)
    energy, forces, halted = _start(jnp.asarray(positions, real), neighbours, stop_args,
                                    potential=potential, stop=check)
    state = MDState(jnp.asarray(positions, real), jnp.asarray(atoms.get_momenta(), real),
                    forces, energy, jnp.asarray(0, jnp.int32), jax.random.PRNGKey(settings.seed))
    every = settings.sample_every
    chunk = partial(_chunk, potential=potential, ensemble=settings.ensemble,
                    n_steps=settings.chunk_steps, sample_every=every, stop=check)
    target = jnp.asarray(settings.steps, jnp.int32)
    samples: list[Sample] = []
    builds, done, fresh, compile_seconds = 1, 0, True, 0.0
    end: tuple[int, str] | None = None  # (step, reason) of an early end
    if bool(halted):
        end = (0, STOPPED if np.isfinite(float(energy)) and np.all(np.isfinite(forces))
               else NON_FINITE)
    else:
        samples.append(jax.device_get(_sample(state, integrator.masses)))
    while done < settings.steps and end is None:
        tick = time.perf_counter()
        state, chunk_samples, status = chunk(state, neighbours, reference, limit, target,
                                             integrator, stop_args)
        chunk_samples, status, now = jax.device_get((chunk_samples, status, state.step))
        if done == 0:
            compile_seconds = time.perf_counter() - tick
        end = _keep_samples(samples, chunk_samples)
        if end is None and status == HALTED:
            finite = (np.isfinite(float(state.energy))
                      and bool(np.all(np.isfinite(np.asarray(state.forces)))))
            end = (int(now), STOPPED if finite else NON_FINITE)
        elif end is None and status == EXPIRED:
            if fresh and int(now) == done:
                end = (done, f"an atom moved more than skin/2 ({0.5 * settings.skin} Å) in "
                             "one step: lower timestep_fs or raise skin")
            else:
                neighbours, reference, limit = fresh_list(np.asarray(state.positions))
                builds += 1
        fresh = status == EXPIRED
        done = int(now)
    seconds = time.perf_counter() - start
    return MDRun(_trajectory(samples, settings, len(atoms), end),
                 _final(atoms, state), done, seconds, compile_seconds, builds)


def _keep_samples(samples: list[Sample], chunk: Sample) -> tuple[int, str] | None:
    """Append the chunk's samples; the step and reason at which the run must stop (non-finite
    values), or None."""
    for k in range(len(chunk.step)):
        step = int(chunk.step[k])
        if step < 0:
            continue  # a slot the chunk did not reach
        sample = Sample(*(field[k] for field in chunk))
        if not (np.isfinite(sample.potential) and np.isfinite(sample.max_force)):
            return step, NON_FINITE
        samples.append(sample)
    return None


def _trajectory(samples: list[Sample], settings: MDSettings, n_atoms: int,
                stop: tuple[int, str] | None) -> Trajectory:
    ps_per_step = settings.timestep_fs / 1000.0

    def field(name: str) -> np.ndarray:
        return np.asarray([getattr(s, name) for s in samples], np.float64)

    return Trajectory(ensemble=settings.ensemble, time_ps=field("step") * ps_per_step,
                      potential=field("potential"), kinetic=field("kinetic"),
                      max_force=field("max_force"), positions=field("positions"),
                      n_atoms=n_atoms,
                      unstable_at_ps=None if stop is None else stop[0] * ps_per_step,
                      reason=None if stop is None else stop[1])


def _final(atoms: Atoms, state: MDState) -> Atoms:
    """The last state as Atoms, its energy and forces attached."""
    final = atoms.copy()
    final.positions = np.asarray(state.positions, np.float64)
    final.set_momenta(np.asarray(state.momenta, np.float64))
    final.calc = SinglePointCalculator(final, energy=float(state.energy),
                                       forces=np.asarray(state.forces, np.float64))
    return final
