"""Conda environments per rule family: pinned like requirements.txt, CPU/CUDA twins, complete."""

from __future__ import annotations

import ast
import re
import sys
from importlib.metadata import packages_distributions
from pathlib import Path

import pytest
import yaml

from tests.conftest import ROOT

ENVS = sorted((ROOT / "envs").glob("*.yaml"))
PIN = re.compile(r"^(?P<name>[A-Za-z0-9_.-]+)(\[[\w,]+\])?==(?P<version>[\w.]+?)(\+\w+)?$")
# what the data rules run: their scripts and the package code they reach
DATA_CODE = [ROOT / "workflow_scripts" / f"{name}.py" for name in (
    "generate_frames", "generate_can_capture", "ingest", "split", "data_summary")]


def normal(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def requirement_pins() -> dict[str, str]:
    lines = (ROOT / "requirements.txt").read_text().splitlines()
    return {normal(m["name"]): m["version"] for line in lines if (m := PIN.match(line.strip()))}


def pip_lines(path: Path) -> list[str]:
    spec = yaml.safe_load(path.read_text())
    pip = [d["pip"] for d in spec["dependencies"] if isinstance(d, dict)]
    return pip[0] if pip else []


def env_pins(path: Path) -> dict[str, str]:
    pins = {}
    for line in pip_lines(path):
        if line.startswith("--"):
            continue
        match = PIN.match(line)
        assert match, f"{path.name}: {line!r} is not pinned as name==version"
        pins[normal(match["name"])] = match["version"]
    return pins


@pytest.mark.parametrize("path", ENVS, ids=lambda p: p.name)
def test_env_is_pinned_like_requirements(path):
    spec = yaml.safe_load(path.read_text())
    assert spec["name"] == f"distillery-{path.stem}"
    assert spec["channels"] == ["conda-forge", "nodefaults"]
    assert f"python={sys.version_info.major}.{sys.version_info.minor}" in spec["dependencies"]
    pins, required = env_pins(path), requirement_pins()
    assert pins, f"{path.name} pins no packages"
    drift = {name: (version, required.get(name)) for name, version in pins.items()
             if required.get(name) != version}
    assert not drift, f"{path.name}: (env, requirements.txt) versions differ: {drift}"


@pytest.mark.parametrize("family", sorted({p.stem.rsplit("-", 1)[0] for p in ENVS
                                           if p.stem.endswith(("-cpu", "-cuda"))}))
def test_gpu_families_have_matching_cpu_and_cuda_twins(family):
    cpu, cuda = ROOT / "envs" / f"{family}-cpu.yaml", ROOT / "envs" / f"{family}-cuda.yaml"
    assert env_pins(cpu) == env_pins(cuda)
    cuda_lines = pip_lines(cuda)
    assert not any("+cpu" in line or "whl/cpu" in line for line in cuda_lines)
    if family == "forcefield":
        assert "jax[cuda12]==0.10.2" in cuda_lines
    if family == "classifier":
        assert "torch==2.13.0+cpu" in pip_lines(cpu) and "torch==2.13.0" in cuda_lines


def third_party_imports(files: list[Path]) -> set[str]:
    names = set()
    for path in files:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.add(node.module.split(".")[0])
    return {n for n in names if n not in sys.stdlib_module_names and n != "distillery"}


def test_data_env_holds_every_package_the_data_rules_import():
    files = [*DATA_CODE, *(ROOT / "src/distillery/data").rglob("*.py"),
             *(ROOT / "src/distillery").glob("*.py")]
    modules = third_party_imports(files)
    assert {"numpy", "pandas", "pyarrow"} <= modules
    distributions = packages_distributions()
    needed = {normal(distributions[m][0]) for m in modules}
    assert needed <= set(env_pins(ROOT / "envs" / "data.yaml")), needed


@pytest.mark.parametrize("rule", [p.stem for p in DATA_CODE])
def test_data_rules_name_the_data_env(rule):
    # `--sdm conda` deploys an env only for rules that name one
    text = "".join(p.read_text() for p in (ROOT / "rules").glob("*.smk"))
    block = re.search(rf"^rule {rule}:\n((?:    .*\n|\n)*)", text, re.M)
    assert block is not None and 'conda:\n        conda_env("data")' in block.group(1)


def test_every_rule_that_runs_python_names_a_pinned_env():
    """`--sdm conda` deploys an env only for rules that name one; the settings objects the rules
    pass as params need pydantic in every env."""
    text = "".join(p.read_text() for p in (ROOT / "rules").glob("*.smk"))
    blocks = re.findall(r"^rule (\w+):\n((?:    .*\n|\n)*)", text, re.M)
    scripted = [(name, body) for name, body in blocks if "script:" in body]
    assert len(scripted) > 20
    families = {p.stem.removesuffix("-cpu").removesuffix("-cuda") for p in ENVS}
    for name, body in scripted:
        match = re.search(r'conda:\n        conda_env\("(\w+)"\)', body)
        assert match is not None, f"rule {name} names no conda env"
        assert match.group(1) in families, f"rule {name}: no env for {match.group(1)}"
    for path in ENVS:
        assert "pydantic" in env_pins(path), path.name
