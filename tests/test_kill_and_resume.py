"""A training job killed mid-run and rerun with the same Snakemake target resumes from its last
checkpoint and ends with the same parameters and metrics table as an uninterrupted run.

SIGTERM is what SLURM sends at a time limit or preemption, SIGKILL what the OOM killer or a lost
node amounts to; both go to the whole process group (Snakemake and the job it runs).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from safetensors.torch import load_file

from tests.conftest import (
    BACKGROUND,
    DEFAULT_CONFIG,
    TINY_CONFIG,
    BackgroundRun,
    run_snakemake,
    snakemake_command,
    snakemake_env,
)

pytestmark = pytest.mark.workflow
EPOCHS = 12


def _forcefield_params(path: Path) -> dict[str, np.ndarray]:
    with np.load(path, allow_pickle=False) as stored:
        return {key: stored[key] for key in stored.files}


def _classifier_params(path: Path) -> dict[str, np.ndarray]:
    return {key: value.numpy() for key, value in load_file(path).items()}


CASES = {
    "forcefield": {
        "target": "results/md/forcefield/teacher/model.npz",
        "outputs": ["results/md/forcefield/teacher"],
        "history": "results/md/forcefield/teacher/history.csv",
        "checkpoints": "results/md/checkpoints/teacher",
        "log": "results/md/logs/ff_train_teacher.log",
        "resumed": "after epoch {epoch}",
        "params": _forcefield_params,
        "config": {"forcefield": {"teacher": {"train": {
            "epochs": EPOCHS, "checkpoint_every": 1, "schedule": {"warmup_steps": 5}}}}},
    },
    "classifier": {
        "target": "results/can/classifier/models/teacher.safetensors",
        "outputs": ["results/can/classifier/models", "results/can/classifier/history"],
        "history": "results/can/classifier/history/teacher.csv",
        "checkpoints": "results/can/checkpoints/classifier/teacher",
        "log": "results/can/logs/can_train_teacher.log",
        "resumed": "resuming after epoch {epoch}",
        "params": _classifier_params,
        "config": {"classifier": {"train": {
            "epochs": EPOCHS, "checkpoint_every": 1, "patience": 0}}},
    },
}


def _history(path: Path) -> pd.DataFrame:
    """The per-epoch table without its wall-clock column."""
    return pd.read_csv(path).drop(columns=["seconds"])


def _configs(tmp_path: Path, overrides: dict) -> tuple[Path, ...]:
    path = tmp_path / "longer_training.yaml"
    path.write_text(yaml.safe_dump(overrides))
    return DEFAULT_CONFIG, TINY_CONFIG, path


def _kill_after_second_epoch(workdir: Path, case: dict, configs: tuple[Path, ...],
                             sig: signal.Signals) -> None:
    """Start the target's DAG, wait for the epoch-2 checkpoint, signal the process group."""
    command = snakemake_command(workdir, case["target"], configfiles=configs)
    marker = workdir / case["checkpoints"] / "epoch_0002.json"
    with open(workdir / "killed_run.log", "w") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, cwd=workdir,
                                   start_new_session=True, env=snakemake_env())
        deadline = time.monotonic() + 600
        while not marker.exists():
            assert process.poll() is None, (workdir / "killed_run.log").read_text()[-3000:]
            assert time.monotonic() < deadline, "no epoch-2 checkpoint within 10 minutes"
            time.sleep(0.02)
        os.killpg(process.pid, sig)
        process.wait(timeout=120)
    # what a user does after a hard kill: release Snakemake's lock on the directory
    run_snakemake(workdir, "--unlock", configfiles=configs)


def background_runs(scratch: Path) -> dict[str, BackgroundRun]:
    """The uninterrupted reference runs, started at collection (tests/conftest.py)."""
    runs = {}
    for name in sorted(CASES):  # the order the tests take them
        case = CASES[name]
        workdir = scratch / f"uninterrupted_{name}"
        workdir.mkdir()
        runs[f"uninterrupted_{name}"] = BackgroundRun(
            workdir, (case["target"],), _configs(workdir, case["config"]))
    return runs


@pytest.fixture(scope="module", params=sorted(CASES))
def uninterrupted(request):
    run = BACKGROUND.wait(f"uninterrupted_{request.param}")
    return CASES[request.param], run.workdir, run.configfiles


# each signal once and each framework once (neither loop handles a signal: both resume from
# their last periodic checkpoint)
SIGNALS = {"forcefield": signal.SIGTERM, "classifier": signal.SIGKILL}


def test_killed_training_resumes_to_the_same_result(uninterrupted, tmp_path):
    case, reference, configs = uninterrupted
    sig = SIGNALS[next(name for name, c in CASES.items() if c is case)]
    # the reference's data and Snakemake records, without the training's outputs/checkpoints
    shutil.copytree(reference, tmp_path, symlinks=True, dirs_exist_ok=True)
    for path in (*case["outputs"], case["checkpoints"]):
        shutil.rmtree(tmp_path / path)
    _kill_after_second_epoch(tmp_path, case, configs, sig)
    assert not (tmp_path / case["target"]).exists()
    latest = json.loads((tmp_path / case["checkpoints"] / "latest.json").read_text())["epoch"]
    assert 2 <= latest < EPOCHS, f"killed after epoch {latest}: nothing left to resume"

    run_snakemake(tmp_path, case["target"], "--rerun-incomplete", configfiles=configs)
    log = (tmp_path / case["log"]).read_text()
    assert case["resumed"].format(epoch=latest) in log, log[-2000:]

    expected, got = case["params"](reference / case["target"]), case["params"](tmp_path /
                                                                             case["target"])
    assert expected.keys() == got.keys()
    for key in expected:
        np.testing.assert_array_equal(got[key], expected[key], err_msg=key)
    history = _history(tmp_path / case["history"])
    pd.testing.assert_frame_equal(history, _history(reference / case["history"]))
    assert list(history["epoch"]) == list(range(1, EPOCHS + 1))

