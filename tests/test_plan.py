"""Hardware-aware planning: mode rules, the seeded TPE search, and a tiny real plan on the CPU."""

from __future__ import annotations

import copy
import csv
import itertools
import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest
import yaml

from distillery.data.frames import write_frames
from distillery.data.splits import random_split, write_splits
from distillery.errors import ConfigError
from distillery.plan.cli import main as plan_main
from distillery.plan.data import PlanData, load_plan_data, plan_role
from distillery.plan.measure import Candidate, Measurement
from distillery.plan.search import ModeRule, Space, choose_from_all, search_mode
from distillery.settings import deep_merge, load, load_files
from distillery.train.plan_settings import (
    MODES,
    PlanSettings,
    ProductionSettings,
    PrototypeSettings,
    SpaceSettings,
    ValidationSettings,
)
from tests.conftest import DEFAULT_CONFIG, VALIDATION_CONFIG
from tests.ff_toy import toy_frames


@pytest.fixture
def config() -> dict:
    return yaml.safe_load(DEFAULT_CONFIG.read_text())


def fake_data(frames: int = 64) -> PlanData:
    # the mode rules read only the training-set size from the data
    return PlanData("fake", None, {}, {16: frames}, n_labels=10_000)  # type: ignore[arg-type]


class FakeClock:
    """Seconds that pass only when a fake measurement takes them."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def fake_measure(limit_mb: float, clock: FakeClock | None = None,
                 durations: Sequence[float] = (0.0,)):
    """A made-up device: parameters grow with width^2 x depth, step time and memory with
    width x depth x batch. The n-th measurement advances `clock` by `durations[n]` (the last
    one repeats)."""
    calls = itertools.count()

    def measure(c: Candidate) -> Measurement:
        seconds = durations[min(next(calls), len(durations) - 1)]
        if clock is not None:
            clock.now += seconds
        memory = 0.05 * c.features * c.n_layers * c.batch_size
        n_params = 10 * c.features**2 * c.n_layers
        if memory > limit_mb:
            return Measurement(c, "oom", n_params, memory_mb=memory, seconds=seconds)
        return Measurement(c, "ok", n_params, step_ms=1 + 0.01 * c.features * c.n_layers
                           * c.batch_size, memory_mb=memory, seconds=seconds)
    return measure


def rule(mode: str, data: PlanData, limit_mb: float, cap: float | None = None,
         **budget: float) -> ModeRule:
    settings = {"prototype": PrototypeSettings, "validation": ValidationSettings,
                "production": ProductionSettings}[mode](**budget)
    return ModeRule(mode, settings, 10, data, limit_mb, cap)


def rules(data: PlanData, limit_mb: float, cap: float | None = None,
          **budget: float) -> dict[str, ModeRule]:
    out = {mode: rule(mode, data, limit_mb, cap, **budget) for mode in MODES}
    out["validation"].between = (out["prototype"], out["production"])
    return out


def test_space_drops_batch_sizes_the_training_set_cannot_fill():
    space = Space.from_settings(SpaceSettings(batch_size=(64, 1, 8, 16)), n_train=12)
    assert space.batch_size == (1, 8)
    assert Space.from_settings(SpaceSettings(batch_size=(32, 64)), n_train=12).batch_size == (32,)
    candidate = Candidate(32, 2, 8)
    assert space.candidate(space.params(candidate)) == candidate
    assert len(space) == 5 * 4 * 2


def test_each_mode_chooses_by_its_own_rule():
    data, measure = fake_data(), fake_measure(limit_mb=40.0)
    measured = [measure(Candidate(f, n, b)) for f, n, b in
                itertools.product((8, 32, 64), (1, 3), (1, 4, 16))]
    modes = rules(data, 40.0, cap=50_000)
    fast = modes["prototype"].choose(measured)
    assert fast.candidate == Candidate(8, 1, 16)
    # production: the largest model under the memory limit and the data cap, largest batch
    big = modes["production"].choose(measured)
    assert big.candidate == Candidate(64, 1, 4)  # 64 x 3 is over the cap, b16 over memory
    assert modes["production"].verdict(measure(Candidate(64, 3, 1))) == "over-data"
    assert modes["production"].verdict(measure(Candidate(64, 1, 16))) == "oom"
    # validation: nearest the geometric mean of those two, within its own cycle budget
    middle_rule = rule("validation", data, 40.0, cap=50_000, cycle_s=0.3)
    middle_rule.between = (modes["prototype"], modes["production"])
    target = np.sqrt(fast.n_params * big.n_params)
    assert middle_rule.target_params(measured) == pytest.approx(target)
    middle = middle_rule.choose(measured)
    fitting = [m for m in measured if middle_rule.verdict(m) == "ok"]
    assert any(middle_rule.verdict(m) == "over-budget" for m in measured)
    assert middle.candidate == min(fitting, key=lambda m: abs(np.log(m.n_params / target))
                                   ).candidate
    assert fast.n_params < middle.n_params < big.n_params
    # whatever does not fit scores worse than everything that does
    for mode_rule in (*modes.values(), middle_rule):
        scores = [(mode_rule.verdict(m) == "ok", mode_rule.score(m, target)) for m in measured]
        assert max(s for ok, s in scores if ok) < min(s for ok, s in scores if not ok)


def test_tpe_search_is_seeded_shares_measurements_and_is_not_a_grid():
    space = Space.from_settings(SpaceSettings(), n_train=64)
    data = fake_data()

    def plan() -> tuple[dict, dict]:
        measured: dict[Candidate, Measurement] = {}
        results = {}
        for mode, mode_rule in rules(data, 20.0, cap=60_000, trials=12).items():
            results[mode] = search_mode(mode_rule, space, fake_measure(20.0), measured,
                                        seed=3, startup_trials=5, log=lambda _: None)
        choose_from_all(results.values(), space, measured)
        return results, measured

    results, measured = plan()
    again, _ = plan()
    assert [r.new for r in results.values()] == [r.new for r in again.values()]
    assert len(measured) < len(space)  # the sampler, not a grid
    for mode, result in results.items():
        assert result.chosen is not None, mode
        assert result.chosen == result.rule.choose(list(measured.values()))
        # later modes start from what earlier ones measured
        assert not set(result.new) & set().union(
            *(results[m].new for m in MODES[:MODES.index(mode)]))
    best = results["production"].chosen
    # the largest batch of the chosen model was looked for: the next size up does not fit
    bigger = [b for b in space.batch_size if b > best.candidate.batch_size]
    if bigger:
        above = measured[Candidate(best.candidate.features, best.candidate.n_layers, bigger[0])]
        assert results["production"].rule.verdict(above) != "ok"


# durations are binary fractions, so the clock's sums are exact
@pytest.mark.parametrize(("durations", "trials", "seconds"), [
    # the fourth trial starts at 0.75 s and ends on the budget; a fifth would pass it
    ((0.25,), 4, 1.0),
    # after a 0.5 s trial at 0.75 s, another one that long would pass the budget: none starts
    ((0.125, 0.125, 0.5), 3, 0.75),
    # only a trial slower than every one before it overruns the budget
    ((0.125, 1.0), 2, 1.125),
])
def test_search_starts_no_candidate_past_its_time_budget(durations, trials, seconds):
    space = Space.from_settings(SpaceSettings(), n_train=64)
    mode_rule = rule("prototype", fake_data(), 20.0, search_s=1.0, trials=50)
    clock = FakeClock()
    result = search_mode(mode_rule, space, fake_measure(20.0, clock, durations), {}, seed=0,
                         startup_trials=5, log=lambda _: None, clock=clock)
    assert (len(result.new), result.seconds) == (trials, seconds)
    assert result.stopped == "search budget 1 s"


def test_role_defaults_to_the_model_the_workflow_trains(config):
    config = copy.deepcopy(config)
    config["datasets"]["mol"]["forcefield"]["teacher"] = {
        "source": "ase", "calculator": "tblite.ase:TBLite"}
    resolved = load(config)
    assert plan_role(resolved.forcefield("md"), "auto", "md")[0] == "teacher"
    assert plan_role(resolved.forcefield("mol"), "auto", "mol")[0] == "student"
    with pytest.raises(ConfigError, match=r"plan\.role: teacher.*fix: plan the student"):
        plan_role(resolved.forcefield("mol"), "teacher", "mol")


def test_without_frames_a_generated_system_is_measured_synthetically(config, tmp_path):
    resolved = load(config)
    data = load_plan_data(resolved.dataset("md"), "md", resolved.forcefield("md"), "teacher",
                          tmp_path, seed=0, max_batch=4, log=lambda _: None)
    assert data.source.startswith("4 synthetic frames of md_emt")
    assert data.n_train == 240  # 300 frames of the generator, 80 % training
    assert data.bucket.n_atoms == 112  # 108 atoms, padded to a multiple of 8
    assert data.batches_per_epoch(16) == 15


def test_a_generated_crystal_is_measured_on_periodic_synthetic_frames(tmp_path):
    resolved = load_files([DEFAULT_CONFIG, VALIDATION_CONFIG])
    data = load_plan_data(resolved.dataset("si_chgnet"), "si_chgnet",
                          resolved.forcefield("si_chgnet"), "student", tmp_path, seed=0,
                          max_batch=4, log=lambda _: None)
    assert data.source.startswith("4 synthetic frames of md_crystal")
    # the student's distill set: 15 training frames (half the generator's 30), 6 displaced
    # copies of each, 3 teacher-MD runs of 150 steps keeping every 5th
    assert data.n_train == 15 * 7 + 3 * 30
    # 64 silicon atoms; the 5 Å cutoff reaches periodic images (28 neighbours each), which
    # only a periodic frame has
    assert data.bucket.n_atoms == 64 and data.bucket.n_edges >= 64 * 28


def test_plan_on_cpu_writes_overlays_the_settings_accept(config, tmp_path):
    """Every mode within its budgets; production: the largest model under a memory cap that
    puts the biggest candidate out of memory, then its largest batch; an MLflow run."""
    results = tmp_path / "results"
    frames = toy_frames(16, n_side=3)  # 27 atoms
    write_frames(results / "md" / "data" / "frames.parquet", frames)
    write_splits(results / "md" / "data" / "splits.json",
                 random_split(len(frames), {"train": 0.8, "val": 0.1, "test": 0.1}, 0))
    cap = 10.0  # MB: 32 features at batch 32 need about 29 MB, 4 at batch 32 about 4 MB
    overrides = {
        "tracking": {"enabled": True},
        "plan": {"role": "student", "memory_limit_mb": cap, "max_params_per_label": None,
                 "space": {"features": [4, 32], "n_layers": [1], "batch_size": [1, 32]},
                 "timing": {"min_steps": 2, "min_time_s": 0.05},
                 **{mode: {"search_s": 120, "trials": 4} for mode in MODES}},
    }
    (tmp_path / "plan.yaml").write_text(yaml.safe_dump(overrides))
    assert plan_main(["--dataset", "md", "--config", str(DEFAULT_CONFIG),
                      str(tmp_path / "plan.yaml"), "--results", str(results)]) == 0

    plan = json.loads((results / "md" / "plan" / "plan.json").read_text())
    assert plan["role"] == "student" and plan["device"]["platform"] == "cpu"
    measurements = plan["measurements"]
    assert {m["status"] for m in measurements} == {"ok", "oom"}
    assert all(m["step_ms"] > 0 for m in measurements if m["status"] == "ok")
    assert all(m["memory_mb"] > cap and m["step_ms"] is None
               for m in measurements if m["status"] == "oom")
    settings = PlanSettings.model_validate(overrides["plan"])
    for mode in MODES:
        record = plan["modes"][mode]
        chosen = record["chosen"]
        assert record["search_seconds"] <= settings.mode(mode).search_s
        assert chosen["step_ms"] > 0 and chosen["cycle_s"] <= settings.mode(mode).cycle_s
        overlay = yaml.safe_load(Path(record["overlay"]).read_text())
        student = load(deep_merge(copy.deepcopy(config), overlay)).forcefield("md").student
        assert (student.model.features, student.model.n_layers, student.train.batch_size) == (
            chosen["features"], chosen["n_layers"], chosen["batch_size"])
        assert student.train.epochs == 20  # the dataset's own setting survives the overlay
    ok = [m for m in measurements if m["status"] == "ok"]
    production = plan["modes"]["production"]["chosen"]
    assert production["n_params"] == max(m["n_params"] for m in ok)
    assert production["batch_size"] == max(
        m["batch_size"] for m in ok if m["n_params"] == production["n_params"])
    with open(results / "md" / "plan" / "step_times.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == len(MODES) * len(measurements)
    assert sum(row["chosen"] == "True" for row in rows) == len(MODES)

    from mlflow import MlflowClient

    client = MlflowClient(f"sqlite:///{results / 'mlflow.db'}")
    (run,) = client.search_runs([client.get_experiment_by_name("md").experiment_id])
    assert run.data.tags["rule"] == "plan" and run.data.tags["role"] == "student"
    assert run.data.metrics["production.chosen.n_params"] == production["n_params"]
    assert np.isclose(run.data.metrics["prototype.chosen.step_ms"],
                      plan["modes"]["prototype"]["chosen"]["step_ms"])
    logged = {a.path for a in client.list_artifacts(run.info.run_id)}
    assert {"plan.json", "step_times.csv", "production.yaml"} <= logged
