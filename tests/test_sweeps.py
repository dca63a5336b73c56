"""Sweeps: variant names and overrides, settings of a variant, seed repeats folded into
mean ± std, shared data links, and the training-history observer that feeds tracking."""

from __future__ import annotations

import json
import math
from collections import Counter
from pathlib import Path

import pytest
import yaml

from distillery.db.sync import sync_metrics
from distillery.errors import ConfigError, InputError
from distillery.report.leaderboard import build_leaderboard
from distillery.settings import deep_merge, load
from distillery.settings import main as settings_cli
from distillery.sweeps import (
    SweepSettings,
    link_file,
    repeat_of,
    split_variant,
    variants,
)
from distillery.tracking.job import epoch_metrics
from distillery.train.history import MetricsHistory, observe
from tests.conftest import DEFAULT_CONFIG, TINY_CONFIG, planned_jobs, run_snakemake


def _config(sweeps: dict) -> dict:
    raw: dict = {}
    for path in (DEFAULT_CONFIG, TINY_CONFIG):
        raw = deep_merge(raw, yaml.safe_load(path.read_text()))
    return {**raw, "sweeps": sweeps}


def test_grid_times_seeds_names_every_variant_with_its_overrides() -> None:
    sweep = SweepSettings(dataset="md", grid={"a.b": [1, 2], "c": ["x"]}, seeds=[0, 5])
    assert variants("lr", sweep) == {
        "lr0_seed0": {"a.b": 1, "c": "x", "seed": 0},
        "lr0_seed5": {"a.b": 1, "c": "x", "seed": 5},
        "lr1_seed0": {"a.b": 2, "c": "x", "seed": 0},
        "lr1_seed5": {"a.b": 2, "c": "x", "seed": 5},
    }
    assert variants("base", SweepSettings(dataset="md")) == {"base": {}}
    student = SweepSettings(dataset="md", seeds=[1], seed_keys=["forcefield.student.train.seed"])
    assert variants("rep", student) == {"rep_seed1": {"forcefield.student.train.seed": 1}}


def test_names_split_into_dataset_variant_point_and_seed() -> None:
    assert split_variant("md--lr1_seed2") == ("md", "lr1_seed2")
    assert split_variant("md-x") == ("md-x", "default")
    assert repeat_of("lr1_seed2") == ("lr1", 2)
    assert repeat_of("default") == ("default", None)


def test_variant_settings_are_the_base_with_overrides_and_its_seed() -> None:
    resolved = load(_config({"rep": {"dataset": "cg", "seeds": [3, 4]},
                             "ep": {"dataset": "md",
                                    "grid": {"forcefield.student.train.epochs": [1, 7]}}}))
    assert list(resolved.variants) == ["cg--rep_seed3", "cg--rep_seed4", "md--ep0", "md--ep1"]
    assert resolved.datasets_for("coarse_grained")[-2:] == ["cg--rep_seed3", "cg--rep_seed4"]
    assert resolved.cg("cg--rep_seed4").delta.train.seed == 4
    assert resolved.cg("cg--rep_seed4").delta.model == resolved.cg("cg").delta.model
    assert resolved.forcefield("md--ep1").student.train.epochs == 7
    assert resolved.forcefield("md--ep1").teacher == resolved.forcefield("md").teacher
    assert resolved.base_dataset("md--ep1") == "md"
    assert resolved.base_dataset("md") == "md"


@pytest.mark.parametrize(("sweeps", "message"), [
    ({"s": {"dataset": "nope"}}, r"sweeps\.s\.dataset: found 'nope'"),
    ({"s": {"dataset": "md", "grid": {"forcefield.student.train.bogus": [1]}}},
     r"bogus: unknown key"),
    ({"a--b": {"dataset": "md"}}, r"sweeps\.a--b: found an invalid name"),
])
def test_bad_sweeps_are_one_line_config_errors(sweeps: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load(_config(sweeps))


def _record(path: Path, variant: str, mae: float) -> Path:
    model = {"model": "student", "role": "student", "n_params": 10, "size_bytes": 40,
             "primary": {"name": "force_mae", "value": mae, "direction": "minimize",
                         "unit": "eV/Å"},
             "metrics": {"force_mae": mae}}
    path.write_text(json.dumps({"schema": "distillery.metrics/1", "dataset": "md",
                                "track": "forcefield", "variant": variant,
                                "models": [model]}))
    return path


def test_seed_repeats_become_mean_and_std_in_the_leaderboard(tmp_path: Path) -> None:
    sources = [_record(tmp_path / f"{i}.json", f"lr0_seed{i}", mae)
               for i, mae in enumerate((1.0, 2.0, 4.0))]
    sources.append(_record(tmp_path / "one.json", "lr1_seed0", 5.0))
    manifest = sync_metrics(tmp_path / "project.db", tmp_path, sources)
    table = build_leaderboard(tmp_path / "project.db",
                              [r.source for r in manifest.records]).set_index("variant")
    assert table.loc["lr0", "primary_value"] == pytest.approx(7 / 3)
    assert table.loc["lr0", "primary_std"] == pytest.approx(math.sqrt(7 / 3))  # n - 1
    assert table.loc["lr0", "metric.force_mae"] == pytest.approx(7 / 3)
    assert table.loc["lr0", "metric.force_mae_std"] == pytest.approx(math.sqrt(7 / 3))
    assert table.loc["lr0", "n_seeds"] == 3
    assert table.loc["lr1", "primary_value"] == 5.0 and table.loc["lr1", "n_seeds"] == 1
    assert math.isnan(table.loc["lr1", "primary_std"])


def test_the_same_seed_twice_is_an_error(tmp_path: Path) -> None:
    sources = [_record(tmp_path / f"{i}.json", "lr0_seed1", 1.0) for i in range(2)]
    with pytest.raises(InputError, match="also in"):
        sync_metrics(tmp_path / "project.db", tmp_path, sources)


def test_variant_data_is_a_link_not_a_copy(tmp_path: Path) -> None:
    source = tmp_path / "md" / "frames.parquet"
    source.parent.mkdir()
    source.write_bytes(b"frames")
    target = tmp_path / "md--x" / "frames.parquet"
    link_file(source, target)
    link_file(source, target)  # a rerun replaces its link
    assert target.read_bytes() == b"frames"
    assert target.stat().st_ino == source.stat().st_ino


def test_history_observers_see_appended_and_restored_rows(tmp_path: Path) -> None:
    seen: list[tuple[int, dict]] = []
    history = MetricsHistory(tmp_path / "h.csv")
    history.append({"epoch": 1, "val_loss": 0.5})
    with observe(lambda row: seen.append(epoch_metrics(row))):
        history.append({"epoch": 2, "val_loss": 0.25, "best": True, "note": "x"})
        MetricsHistory(tmp_path / "r.csv").load_state_dict([{"epoch": 1, "val_loss": 0.5}])
    history.append({"epoch": 3, "val_loss": 0.1})  # observer gone
    assert seen == [(2, {"val_loss": 0.25, "best": 1.0}), (1, {"val_loss": 0.5})]


def test_config_diff_compares_two_variants(tmp_path: Path, capsys) -> None:
    sweep = tmp_path / "sweep.yaml"
    sweep.write_text(yaml.safe_dump({"sweeps": {"ep": {
        "dataset": "md", "grid": {"forcefield.student.train.epochs": [1, 7]}, "seeds": [0]}}}))
    configs = [str(DEFAULT_CONFIG), str(TINY_CONFIG), str(sweep)]
    assert settings_cli(["diff", "md--ep0_seed0", "md--ep1_seed0", "--configs", *configs]) == 0
    lines = capsys.readouterr().out.splitlines()
    # the dataset's own override, and the resolved block it changes
    assert [line.split() for line in lines[1:]] == [
        ["dataset.forcefield.student.train.epochs", "1", "7"],
        ["forcefield.student.train.epochs", "1", "7"]]
    with pytest.raises(SystemExit):
        settings_cli(["diff", "md--nope", "md", "--configs", *configs])


# grid x seeds over mol's student (an ASE teacher) and seed repeats of md's student alone (a
# trained teacher): the variants of equal teacher, distillation and seed share those outputs
SHARING = {
    "ep": {"dataset": "mol", "grid": {"forcefield.student.train.epochs": [1, 2]},
           "seeds": [0, 1, 2]},
    "rep": {"dataset": "md", "seeds": [0, 1, 2], "seed_keys": ["forcefield.student.train.seed"]},
}


@pytest.mark.workflow
def test_variants_share_the_teacher_and_distill_set_of_equal_settings_and_seed(tmp_path) -> None:
    overlay = tmp_path / "sweep.yaml"
    overlay.write_text(yaml.safe_dump({"sweeps": SHARING}))
    resolved = load(_config(SHARING))
    targets = [f"results/{name}/forcefield/metrics.json" for name in resolved.variants]
    result = run_snakemake(tmp_path, "-n", *targets,
                           configfiles=(DEFAULT_CONFIG, TINY_CONFIG, overlay))
    jobs = planned_jobs(result.stdout + result.stderr)

    def made_for(rule: str, model: str | None = None) -> Counter:
        wildcards = [dict(w.split("=") for w in wc.split(", ")) for r, wc, _ in jobs if r == rule]
        return Counter(wc["dataset"] for wc in wildcards if wc.get("model") == model)

    # mol's seed 0 points use mol's own set; each further seed its first grid point's: 3
    # samplings of 2 label chunks each, where every variant sampling alone would take 6 and 12;
    # md's repeats vary the student's seed alone: md's teacher and set serve all three
    samplers = {"mol": 1, "mol--ep0_seed1": 1, "mol--ep0_seed2": 1, "md": 1}
    assert made_for("ff_distill_sample") == samplers
    assert made_for("ff_distill_set") == samplers
    assert made_for("ff_distill_label") == {name: 2 for name in samplers}
    assert made_for("ff_train", "teacher") == {"md": 1}
    # every variant trains and evaluates its own students and baselines
    assert made_for("ff_train", "student") == dict.fromkeys(resolved.variants, 1)
    assert made_for("ff_train", "baseline") == dict.fromkeys(resolved.variants, 1)
    assert made_for("ff_evaluate") == dict.fromkeys(resolved.variants, 1)
