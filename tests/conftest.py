"""Shared fixtures: the repository root and a Snakemake runner on a scratch directory."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from distillery.settings import load_files
from distillery.train.jax_device import CACHE_VARIABLE
from tests.mlflow_server import SERVER

ROOT = Path(__file__).resolve().parents[1]
SNAKEMAKE = Path(sys.executable).with_name("snakemake")
DEFAULT_CONFIG = ROOT / "config" / "config.yaml"
VALIDATION_CONFIG = ROOT / "config" / "validation.yaml"
TINY_CONFIG = ROOT / "tests" / "configs" / "tiny.yaml"
# the datasets of the tiny run, in the default config's order
TINY_DATASETS = list(load_files([DEFAULT_CONFIG, TINY_CONFIG]).datasets)


def snakemake_command(workdir: Path, *args: str,
                      configfiles: tuple[Path, ...] = (DEFAULT_CONFIG, TINY_CONFIG)) -> list[str]:
    """The command that runs the repository's Snakefile with `workdir` as working directory."""
    # targets and options first: --configfile takes every following argument
    return [str(SNAKEMAKE), *args, "-s", str(ROOT / "Snakefile"), "-d", str(workdir),
            "--cores", "2", "--configfile", *(str(c) for c in configfiles)]


def snakemake_env() -> dict[str, str]:
    return {**os.environ, "PYTHONUNBUFFERED": "1"}


def run_snakemake(
    workdir: Path,
    *args: str,
    configfiles: tuple[Path, ...] = (DEFAULT_CONFIG, TINY_CONFIG),
    check: bool = True,
) -> subprocess.CompletedProcess:
    """Run the workflow in `workdir` (results go there); `check`: fail on a non-zero exit."""
    result = subprocess.run(snakemake_command(workdir, *args, configfiles=configfiles),
                            capture_output=True, text=True, env=snakemake_env(), cwd=workdir)
    if check and result.returncode != 0:
        raise AssertionError(f"snakemake failed:\n{result.stdout[-4000:]}\n{result.stderr[-4000:]}")
    return result


def planned_jobs(output: str) -> list[tuple[str, str, str]]:
    """(rule, wildcards, reason) of every job a dry run prints."""
    jobs = []
    for block in re.split(r"\n(?=(?:local)?rule \w+:)", output):
        head = re.match(r"(?:local)?rule (\w+):", block.strip())
        if head is None:
            continue
        wildcards = re.search(r"^\s*wildcards: (.*)$", block, re.M)
        reason = re.search(r"^\s*reason: (.*)$", block, re.M)
        jobs.append((head.group(1), wildcards.group(1) if wildcards else "",
                     reason.group(1) if reason else ""))
    return jobs


def pytest_configure(config: pytest.Config) -> None:
    """One JAX compilation cache for every workflow run of the session (the jobs inherit the
    variable): the same programs are not compiled run after run."""
    if CACHE_VARIABLE not in os.environ:
        os.environ[CACHE_VARIABLE] = tempfile.mkdtemp(prefix="distillery-jax-cache-")
        config.add_cleanup(lambda: shutil.rmtree(os.environ.pop(CACHE_VARIABLE), True))
    config.add_cleanup(SERVER.stop)


@dataclass
class BackgroundRun:
    """A workflow run that starts at collection, in the background at the lowest CPU priority:
    it takes the cycles the other tests leave idle, and the tests that read it wait for it."""

    workdir: Path
    args: tuple[str, ...] = ()
    configfiles: tuple[Path, ...] = (DEFAULT_CONFIG, TINY_CONFIG)
    # starts from the tiny run's files: queued after it
    after_tiny: bool = False
    # called just before the run starts (copy files in, start a server, add a config)
    prepare: Callable[[BackgroundRun], None] | None = None
    process: subprocess.Popen | None = field(default=None, init=False)
    error: str = field(default="", init=False)
    # seconds since the session's background work began, for the summary
    span: tuple[float, float] | None = field(default=None, init=False)
    started: threading.Event = field(default_factory=threading.Event, init=False)

    @property
    def log(self) -> Path:
        return self.workdir.with_name(self.workdir.name + ".log")

    def start(self) -> None:
        with self.log.open("w") as log:
            self.process = subprocess.Popen(
                ["nice", "-n", "19", *snakemake_command(self.workdir, *self.args,
                                                        configfiles=self.configfiles)],
                stdout=log, stderr=subprocess.STDOUT, env=snakemake_env(), cwd=self.workdir,
                start_new_session=True)
        self.started.set()

    @property
    def succeeded(self) -> bool:
        """Started and ended with exit status 0 (False while it runs)."""
        return self.process is not None and self.process.poll() == 0

    def wait(self) -> BackgroundRun:
        self.started.wait()
        if self.error:
            raise AssertionError(f"the background workflow run in {self.workdir} could not "
                                 f"start: {self.error}")
        if self.process is None or self.process.wait() != 0:
            raise AssertionError(f"the background workflow run in {self.workdir} failed:\n"
                                 f"{self.log.read_text()[-6000:]}")
        return self

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)  # Snakemake and its jobs
            self.process.wait()


class BackgroundRuns:
    """Background runs, one after another in a thread (together they would fight for the
    cores): the runs test modules declare first, then the shared tiny run, which the last
    tests read, then the declared runs that start from its files."""

    def __init__(self) -> None:
        self.runs: dict[str, BackgroundRun] = {}
        self.began = 0.0
        self.stopped = False
        self.lock = threading.Lock()

    def start(self) -> None:
        self.began = time.monotonic()
        threading.Thread(target=self._work, daemon=True).start()

    def _work(self) -> None:
        queue = sorted(self.runs.values(), key=lambda run: run.after_tiny)  # a stable sort
        for run in queue:
            if run.after_tiny and not self.runs["tiny"].succeeded:
                run.error = "the tiny run it starts from failed"
                continue
            start = time.monotonic() - self.began
            with self.lock:  # no run starts once the session has stopped them
                if self.stopped:
                    break
                try:
                    if run.prepare is not None:
                        run.prepare(run)
                    run.start()
                except Exception as error:  # the tests that wait on it fail with it
                    run.error = f"{type(error).__name__}: {error}"
                    continue
            run.process.wait()
            run.span = (start, time.monotonic() - self.began)
        for run in self.runs.values():
            run.started.set()  # a stopped session: waiting tests fail instead of hanging

    def wait(self, name: str) -> BackgroundRun:
        if name not in self.runs:
            raise AssertionError(f"no background run {name!r} was started at collection")
        return self.runs[name].wait()

    def stop(self) -> None:
        with self.lock:
            self.stopped = True
        for run in self.runs.values():
            run.stop()


BACKGROUND = BackgroundRuns()


def _reads_tiny_run(item: pytest.Item) -> bool:
    return "tiny_run" in getattr(item, "fixturenames", ())


@pytest.hookimpl(trylast=True)  # after -k/-m deselection: start only the runs that are read
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Start the background runs: those of the selected modules that declare
    `background_runs(scratch) -> {name: BackgroundRun}`, and the shared tiny run if a test
    reads it or a declared run starts from it. The tests that read the tiny run go last, and
    the modules whose runs start from it after them."""
    if config.option.collectonly or not items:
        return
    scratch = Path(tempfile.mkdtemp(prefix="distillery-background-"))
    config.add_cleanup(lambda: shutil.rmtree(scratch, True))
    after_tiny = set()
    for module in dict.fromkeys(item.module for item in items if hasattr(item, "module")):
        if hasattr(module, "background_runs"):
            runs = module.background_runs(scratch)
            BACKGROUND.runs.update(runs)
            if any(run.after_tiny for run in runs.values()):
                after_tiny.add(module)

    def order(item: pytest.Item) -> int:
        return 2 if getattr(item, "module", None) in after_tiny else int(_reads_tiny_run(item))

    items.sort(key=order)  # stable: the order within each group stays
    if after_tiny or any(map(_reads_tiny_run, items)):
        (scratch / "tiny").mkdir()
        BACKGROUND.runs["tiny"] = BackgroundRun(scratch / "tiny")
    if BACKGROUND.runs:
        BACKGROUND.start()
        config.add_cleanup(BACKGROUND.stop)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """When each background run started and ended: the runs should end before the tests
    that read them begin, or those tests wait."""
    spans = [f"{name} {run.span[0]:.0f}-{run.span[1]:.0f}"
             for name, run in BACKGROUND.runs.items() if run.span is not None]
    if spans:
        terminalreporter.write_line("background runs (s after collection): " + ", ".join(spans))


@pytest.fixture(scope="session")
def server() -> str:
    """The session's live MLflow tracking server on 127.0.0.1 (tests/mlflow_server.py)."""
    return SERVER.start()


@pytest.fixture(scope="session")
def tiny_run() -> Path:
    """The whole workflow on the tiny config, run once per session (as `make run` does) and
    shared by every test that reads its results; tests that change files work on a copy."""
    return BACKGROUND.wait("tiny").workdir


def copy_run(run: Path, target: Path) -> Path:
    """A private copy of a run (mtimes and Snakemake's metadata included)."""
    shutil.copytree(run, target, symlinks=True)
    return target
