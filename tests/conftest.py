"""Shared fixtures: the repository root and a Snakemake runner on a scratch directory."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from distillery.settings import load_files
from distillery.train.device import CACHE_VARIABLE

ROOT = Path(__file__).resolve().parents[1]
SNAKEMAKE = Path(sys.executable).with_name("snakemake")
DEFAULT_CONFIG = ROOT / "config" / "config.yaml"
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


def pytest_configure(config: pytest.Config) -> None:
    """One JAX compilation cache for every workflow run of the session (the jobs inherit the
    variable): the same programs are not compiled run after run."""
    if CACHE_VARIABLE not in os.environ:
        os.environ[CACHE_VARIABLE] = tempfile.mkdtemp(prefix="distillery-jax-cache-")
        config.add_cleanup(lambda: shutil.rmtree(os.environ.pop(CACHE_VARIABLE), True))


class BackgroundRun:
    """The tiny workflow run as a low-priority process started at collection: it takes the
    cycles the other tests leave idle, and the tests that read it wait for it."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.log = workdir.with_name(workdir.name + ".log")
        with self.log.open("w") as log:
            self.process = subprocess.Popen(
                ["nice", "-n", "19", *snakemake_command(workdir)], stdout=log,
                stderr=subprocess.STDOUT, env=snakemake_env(), cwd=workdir,
                start_new_session=True)

    def wait(self) -> Path:
        if self.process.wait() != 0:
            raise AssertionError(f"the tiny workflow run failed:\n{self.log.read_text()[-6000:]}")
        return self.workdir

    def stop(self) -> None:
        if self.process.poll() is None:  # interrupted session: stop Snakemake and its jobs
            os.killpg(self.process.pid, signal.SIGTERM)
            self.process.wait()


_TINY_RUN: list[BackgroundRun] = []


def _reads_tiny_run(item: pytest.Item) -> bool:
    return "tiny_run" in getattr(item, "fixturenames", ())


@pytest.hookimpl(trylast=True)  # after -k/-m deselection: start the run only if it is read
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The tests that read the shared tiny run go last, and the run starts now."""
    readers = [item for item in items if _reads_tiny_run(item)]
    if not readers or config.option.collectonly:
        return
    items[:] = [item for item in items if not _reads_tiny_run(item)] + readers
    scratch = Path(tempfile.mkdtemp(prefix="distillery-tiny-run-"))
    (scratch / "workflow").mkdir()
    run = BackgroundRun(scratch / "workflow")
    _TINY_RUN.append(run)
    config.add_cleanup(lambda: shutil.rmtree(scratch, True))
    config.add_cleanup(run.stop)


@pytest.fixture(scope="session")
def tiny_run() -> Path:
    """The whole workflow on the tiny config, run once per session (as `make run` does) and
    shared by every test that reads its results; tests that change files work on a copy."""
    return _TINY_RUN[0].wait()


def copy_run(run: Path, target: Path) -> Path:
    """A private copy of a run (mtimes and Snakemake's metadata included)."""
    shutil.copytree(run, target, symlinks=True)
    return target
