"""Shared fixtures: the repository root and a Snakemake runner on a scratch directory."""

from __future__ import annotations

import os
import shutil
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


def run_snakemake(
    workdir: Path,
    *args: str,
    configfiles: tuple[Path, ...] = (DEFAULT_CONFIG, TINY_CONFIG),
    check: bool = True,
) -> subprocess.CompletedProcess:
    """Run the repository's Snakefile with `workdir` as working directory (results go there)."""
    # targets and options first: --configfile takes every following argument
    command = [
        str(SNAKEMAKE), *args, "-s", str(ROOT / "Snakefile"), "-d", str(workdir), "--cores", "2",
        "--configfile", *(str(c) for c in configfiles),
    ]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    result = subprocess.run(command, capture_output=True, text=True, env=env, cwd=workdir)
    if check and result.returncode != 0:
        raise AssertionError(f"snakemake failed:\n{result.stdout[-4000:]}\n{result.stderr[-4000:]}")
    return result


def pytest_configure(config: pytest.Config) -> None:
    """One JAX compilation cache for every workflow run of the session (the jobs inherit the
    variable): the same programs are not compiled run after run."""
    if CACHE_VARIABLE not in os.environ:
        os.environ[CACHE_VARIABLE] = tempfile.mkdtemp(prefix="distillery-jax-cache-")
        config.add_cleanup(lambda: shutil.rmtree(os.environ.pop(CACHE_VARIABLE), True))


@pytest.fixture(scope="session")
def tiny_workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A scratch directory in which tests run the workflow on the tiny config."""
    return tmp_path_factory.mktemp("workflow")


@pytest.fixture(scope="session")
def tiny_run(tiny_workdir: Path) -> Path:
    """The whole workflow on the tiny config, run once per session (as `make run` does) and
    shared by every test that reads its results; tests that change files work on a copy."""
    run_snakemake(tiny_workdir)
    return tiny_workdir


def copy_run(run: Path, target: Path) -> Path:
    """A private copy of a run (mtimes and Snakemake's metadata included)."""
    shutil.copytree(run, target, symlinks=True)
    return target
