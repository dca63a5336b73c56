"""Bayesian search (Optuna TPE, seeded) of one development mode over measured candidates.

A cycle is one training run's optimizer steps: epochs x batches per epoch x step time. Each
mode keeps the candidates that fit the memory limit, the data (`max_params_per_label`) and its
`cycle_s`, and among them chooses:

- prototype: the shortest cycle;
- production: the largest model (parameters), then the largest batch size for that model that
  still fits;
- validation, the middle ground: the model whose parameter count is nearest (in ratio) the
  geometric mean of the prototype's and the production's choices, ties the shorter cycle (the
  largest model, when either of those has no choice).

For the sampler (lower is better) candidates that do not fit score above every one that does,
ordered by how far over they are, so it learns where the limits lie. Measurements are shared:
every candidate measured so far seeds the next mode's study (run order: prototype, production,
validation, so that validation's aim is known), and a whole plan's modes choose from all of its
measurements (`choose_from_all`).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Literal

import optuna
from optuna.distributions import IntDistribution

from distillery.plan.data import PlanData
from distillery.plan.measure import Candidate, Measurement
from distillery.train.plan_settings import Mode, ModeSettings, SpaceSettings

Verdict = Literal["ok", "oom", "over-budget", "over-data"]
DIMENSIONS = ("features", "n_layers", "batch_size")
# above the score of every candidate that fits (scores of fitting ones stay below ~20): TPE
# ranks the scores, so only the order matters
INFEASIBLE = 1e3


@dataclass(frozen=True)
class Space:
    """The candidate grid, sorted; the sampler proposes indices (ordinal, so TPE can exploit
    that neighbouring sizes behave alike)."""

    features: tuple[int, ...]
    n_layers: tuple[int, ...]
    batch_size: tuple[int, ...]

    @classmethod
    def from_settings(cls, space: SpaceSettings, n_train: int) -> Space:
        batches = sorted(set(space.batch_size))
        # a batch larger than the training set never fills: the data bounds it
        fitting = [b for b in batches if b <= n_train] or batches[:1]
        return cls(tuple(sorted(set(space.features))), tuple(sorted(set(space.n_layers))),
                   tuple(fitting))

    def __len__(self) -> int:
        return len(self.features) * len(self.n_layers) * len(self.batch_size)

    def __contains__(self, candidate: object) -> bool:
        return isinstance(candidate, Candidate) and all(
            getattr(candidate, d) in getattr(self, d) for d in DIMENSIONS)

    def distributions(self) -> dict[str, IntDistribution]:
        return {d: IntDistribution(0, len(getattr(self, d)) - 1) for d in DIMENSIONS}

    def candidate(self, params: dict[str, int]) -> Candidate:
        return Candidate(*(getattr(self, d)[params[d]] for d in DIMENSIONS))

    def params(self, candidate: Candidate) -> dict[str, int]:
        return {d: getattr(self, d).index(getattr(candidate, d)) for d in DIMENSIONS}


@dataclass
class ModeRule:
    """A mode's budgets and what it asks of a measurement."""

    mode: Mode
    settings: ModeSettings
    epochs: int
    data: PlanData
    limit_mb: float
    param_cap: float | None  # parameters the training labels support; None: no cap
    # validation: the prototype and production rules whose choices it sits between
    between: tuple[ModeRule, ModeRule] | None = None

    def cycle_s(self, m: Measurement) -> float | None:
        """Optimizer steps of one training run: epochs x batches per epoch x step time."""
        if m.step_ms is None:
            return None
        return self.epochs * self.data.batches_per_epoch(m.candidate.batch_size) * m.step_ms / 1e3

    def verdict(self, m: Measurement) -> Verdict:
        if m.status == "oom":
            return "oom"
        if self.param_cap is not None and m.n_params > self.param_cap:
            return "over-data"
        return "over-budget" if self.cycle_s(m) > self.settings.cycle_s else "ok"

    def target_params(self, measured: list[Measurement]) -> float | None:
        """Validation's aim: the geometric mean of the parameter counts the prototype and
        production rules choose from `measured`."""
        ends = [rule.choose(measured) for rule in self.between or ()]
        if len(ends) != 2 or None in ends:
            return None
        return math.sqrt(ends[0].n_params * ends[1].n_params)

    def score(self, m: Measurement, target: float | None = None) -> float:
        """Lower is better; `target`: validation's aim (see `target_params`)."""
        verdict, cycle = self.verdict(m), self.cycle_s(m)
        if verdict == "ok":
            if self.mode == "prototype":
                return math.log(cycle)
            if self.mode == "validation" and target is not None:
                return abs(math.log(m.n_params / target)) + 1e-3 * math.log(cycle)
            # more parameters first; the small term only breaks ties
            tie = math.log(cycle) if self.mode == "validation" else -math.log(
                m.candidate.batch_size)
            return -math.log(m.n_params) + 1e-3 * tie
        over = {"oom": (m.memory_mb or 2 * self.limit_mb) / self.limit_mb,
                "over-data": m.n_params / (self.param_cap or 1.0),
                "over-budget": (cycle or 0.0) / self.settings.cycle_s}[verdict]
        return INFEASIBLE + math.log(max(over, 1.0))

    def choose(self, measured: list[Measurement]) -> Measurement | None:
        fits = [m for m in measured if self.verdict(m) == "ok"]
        if not fits:
            return None
        if self.mode == "prototype":
            return min(fits, key=lambda m: (self.cycle_s(m), m.n_params))
        if self.mode == "validation":
            target = self.target_params(measured)
            if target is not None:
                return min(fits, key=lambda m: (abs(math.log(m.n_params / target)),
                                                self.cycle_s(m)))
            return max(fits, key=lambda m: (m.n_params, -self.cycle_s(m)))
        return max(fits, key=lambda m: (m.n_params, m.candidate.batch_size))


@dataclass
class ModeResult:
    rule: ModeRule
    new: list[Candidate] = field(default_factory=list)  # measured during this mode, in order
    chosen: Measurement | None = None
    seconds: float = 0.0
    stopped: str = ""


def search_mode(rule: ModeRule, space: Space, measure: Callable[[Candidate], Measurement],
                measured: dict[Candidate, Measurement], seed: int, startup_trials: int,
                log: Callable[[str], None] = print,
                clock: Callable[[], float] = time.perf_counter) -> ModeResult:
    """Measure up to `trials` new candidates proposed by TPE within `search_s`, then choose.

    `measured` (candidate -> measurement, shared between modes) is read and extended. No
    trial starts once the time spent plus the longest trial so far would pass the search
    budget, so only a trial slower than every one before it can overrun the budget. `clock`
    (seconds) times the search against that budget.
    """
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    result, start, longest = ModeResult(rule), clock(), 0.0
    distributions = space.distributions()
    study = optuna.create_study(direction="minimize", sampler=optuna.samplers.TPESampler(
        seed=seed, n_startup_trials=startup_trials))
    target = rule.target_params([m for c, m in measured.items() if c in space])
    for m in measured.values():
        if m.candidate in space:
            study.add_trial(optuna.trial.create_trial(
                params=space.params(m.candidate), distributions=distributions,
                value=rule.score(m, target)))
    budget, asked = rule.settings, 0
    while True:
        elapsed = clock() - start
        if len(result.new) >= budget.trials:
            result.stopped = f"{budget.trials} new candidates measured"
            break
        if elapsed + longest > budget.search_s:
            result.stopped = f"search budget {budget.search_s:g} s"
            break
        if sum(c in space for c in measured) == len(space):
            result.stopped = "every candidate measured"
            break
        if asked >= 10 * budget.trials:  # TPE keeps proposing candidates already measured
            result.stopped = f"{asked} proposals"
            break
        began = clock()
        trial, asked = study.ask(distributions), asked + 1
        candidate = space.candidate(trial.params)
        if candidate not in measured:
            measured[candidate] = measure(candidate)
            result.new.append(candidate)
            log(progress(rule, measured[candidate], len(result.new), budget.trials))
        study.tell(trial, rule.score(measured[candidate], target))
        longest = max(longest, clock() - began)
    if rule.mode == "production":
        _largest_batch(rule, space, measure, measured, result, start, longest, log, clock)
    result.chosen = rule.choose([m for c, m in measured.items() if c in space])
    result.seconds = clock() - start
    return result


def _largest_batch(rule: ModeRule, space: Space, measure: Callable[[Candidate], Measurement],
                   measured: dict[Candidate, Measurement], result: ModeResult, start: float,
                   longest: float, log: Callable[[str], None], clock: Callable[[], float]
                   ) -> None:
    """For the largest model found, measure the batch sizes above its best one in turn until
    one does not fit (memory grows with the batch) or the search budget is spent."""
    best = rule.choose([m for c, m in measured.items() if c in space])
    if best is None:
        return
    for size in (b for b in space.batch_size if b > best.candidate.batch_size):
        candidate = Candidate(best.candidate.features, best.candidate.n_layers, size)
        if candidate not in measured:
            if clock() - start + longest > rule.settings.search_s:
                result.stopped += f"; batch search stopped by the budget at {size}"
                return
            began = clock()
            measured[candidate] = measure(candidate)
            result.new.append(candidate)
            longest = max(longest, clock() - began)
            log(progress(rule, measured[candidate], len(result.new), None))
        if rule.verdict(measured[candidate]) != "ok":
            return


def choose_from_all(results: Iterable[ModeResult], space: Space,
                    measured: dict[Candidate, Measurement]) -> None:
    """Every mode chooses again from all of the plan's measurements: a candidate a later mode
    measured may suit an earlier one better."""
    pool = [m for c, m in measured.items() if c in space]
    for result in results:
        result.chosen = result.rule.choose(pool)


def progress(rule: ModeRule, m: Measurement, n: int, total: int | None) -> str:
    """One log line per measured candidate."""
    count = f"{n}/{total}" if total is not None else f"{n}, largest batch"
    step = f"{m.step_ms:.2f} ms/step" if m.step_ms is not None else "not timed"
    cycle = rule.cycle_s(m)
    memory = f"{m.memory_mb:.1f} MB" if m.memory_mb is not None else "memory unknown"
    return (f"[plan {rule.mode} {count}] {m.candidate.label()}: {m.n_params} params, {step}, "
            f"{memory}, cycle {'-' if cycle is None else f'{cycle:.1f} s'}: "
            f"{rule.verdict(m)} ({m.seconds:.1f} s)")
