"""A tiny ingest DAG through `snakemake --profile profiles/slurm` on a live local SLURM cluster.

Every job must be submitted with sbatch, run on the local slurmd and be recorded by the
controller; its outputs must equal those of a local run of the same DAG.
"""

from __future__ import annotations

import json
import re
import subprocess
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from tests.conftest import ROOT, SNAKEMAKE, run_snakemake
from tests.slurm.cluster import LocalSlurm

pytestmark = pytest.mark.workflow

# the ingest DAG of the three generated layouts that need no quantum chemistry or OpenMM (their
# generators run seconds of MD locally; the scheduler path is the same)
TARGETS = tuple(f"results/{d}/data/summary.json" for d in ("md", "cg", "can"))
# test-only knobs: this cluster has no slurmdbd (status via squeue) and jobs take seconds
SLURM_ARGS = ("--profile", str(ROOT / "profiles" / "slurm"), "--slurm-status-command", "squeue",
              "--slurm-init-seconds-before-status-checks", "2")


@pytest.fixture(scope="session")
def cluster(tmp_path_factory: pytest.TempPathFactory):
    install = subprocess.run(["bash", str(ROOT / "tests" / "slurm" / "install.sh")],
                             capture_output=True, text=True)
    if install.returncode == 3:
        pytest.skip(install.stderr.strip())
    assert install.returncode == 0, f"installing SLURM failed:\n{install.stderr[-3000:]}"
    slurm = LocalSlurm(tmp_path_factory.mktemp("slurm"), partition="ci", gpu_partition="gpu")
    try:
        slurm.start()
        yield slurm
    finally:
        slurm.stop()


def submit(cluster: LocalSlurm, run: Callable[[], subprocess.CompletedProcess]) -> str:
    """Run Snakemake against the cluster with the site variables set; the SLURM run ID."""
    with pytest.MonkeyPatch.context() as env:
        for name, value in cluster.client_vars.items():
            env.setenv(name, value)
        env.setenv("DISTILLERY_SLURM_PARTITION", cluster.partition)
        env.setenv("DISTILLERY_SLURM_GPU_PARTITION", cluster.gpu_partition)
        env.delenv("DISTILLERY_SLURM_ACCOUNT", raising=False)
        result = run()
    assert result.returncode == 0, (f"SLURM run failed:\n{result.stderr[-6000:]}\n"
                                    f"{cluster.log_tail()}")
    return re.search(r"SLURM run ID: (\S+)", result.stderr).group(1)


@pytest.fixture(scope="session")
def slurm_run(cluster: LocalSlurm, tmp_path_factory: pytest.TempPathFactory):
    workdir = tmp_path_factory.mktemp("slurm_run")
    run_id = submit(cluster, lambda: run_snakemake(workdir, *TARGETS, *SLURM_ARGS, check=False))
    return workdir, run_id


def planned_jobs(workdir: Path) -> Counter:
    """Jobs per rule of the whole DAG for TARGETS, from a forced dry run."""
    out = run_snakemake(workdir, *TARGETS, "--dry-run", "--forceall").stdout
    table = out.split("Job stats:", 1)[1].split("total", 1)[0]
    return Counter({m[1]: int(m[2]) for m in re.finditer(r"^(\w+)\s+(\d+)$", table, re.M)})


def test_every_job_went_through_the_scheduler(cluster, slurm_run):
    workdir, run_id = slurm_run
    jobs = [job for job in cluster.jobs() if job["name"] == run_id]
    per_rule = Counter(re.match(r"rule_(\w+?)(_wildcards_|$)", job["comment"])[1]
                       for job in jobs)
    assert per_rule == planned_jobs(workdir)
    assert {job["state"] for job in jobs} == {"COMPLETED"}
    assert {job["partition"] for job in jobs} == {cluster.partition}
    # the profile's per-rule resources reached sbatch
    ingest = [job for job in jobs if job["comment"].startswith("rule_ingest_")]
    assert {(job["time_limit"], job["memory"], job["cpus"]) for job in ingest} == {
        ("1:00:00", "8000M", "1")}
    ids = {job["id"] for job in jobs}
    assert ids <= cluster.completed_job_ids()
    slurmd_log = (cluster.root / "log" / "slurmd.log").read_text()
    assert ids <= set(re.findall(r"Launching batch job (\d+)", slurmd_log))


def test_job_logs_land_where_documented(slurm_run):
    workdir, _ = slurm_run
    slurm_logs = sorted((workdir / "logs" / "slurm").rglob("*.log"))
    per_rule = Counter(p.relative_to(workdir / "logs" / "slurm").parts[0] for p in slurm_logs)
    assert per_rule == {f"rule_{rule}": n for rule, n in planned_jobs(workdir).items()}
    ingest_md = next((workdir / "logs/slurm/rule_ingest/md").glob("*.log")).read_text()
    assert "rule ingest" in ingest_md
    assert "done in" in (workdir / "results/md/logs/ingest.log").read_text()


def data_files(root: Path) -> list[Path]:
    """Every output of the DAG except logs, benchmark timings and the project database (which
    records hosts, run ids and times, and is rebuilt from the rest)."""
    files = [*(root / "data" / "raw").rglob("*"), *(root / "results").rglob("*")]
    return sorted(p.relative_to(root) for p in files if p.is_file()
                  and not {"logs", "benchmarks"} & set(p.relative_to(root).parts)
                  and not p.name.startswith("project.db"))


def test_outputs_equal_the_local_run(slurm_run, tiny_run):
    """The shared tiny run built the same DAG locally (and more): every file the cluster
    wrote is there, with the same content."""
    workdir, _ = slurm_run
    files = data_files(workdir)
    assert set(files) <= set(data_files(tiny_run))
    assert {p.suffix for p in files} == {".csv", ".json", ".npz", ".parquet"}
    assert {p.parts[1] for p in files if p.parts[0] == "results"} == {"md", "cg", "can"}
    for rel in files:
        ours, theirs = workdir / rel, tiny_run / rel
        if rel.suffix == ".parquet":
            assert pq.read_table(ours).equals(pq.read_table(theirs), check_metadata=True), rel
        elif rel.suffix == ".npz":  # zip member timestamps differ; the arrays must not
            with np.load(ours) as a, np.load(theirs) as b:
                assert sorted(a.files) == sorted(b.files), rel
                for key in a.files:
                    np.testing.assert_array_equal(a[key], b[key], err_msg=f"{rel}:{key}")
        else:
            assert ours.read_bytes() == theirs.read_bytes(), rel


def test_training_rule_gets_the_profile_gpu_resources(cluster, tmp_path):
    command = [str(SNAKEMAKE), "-s", str(ROOT / "tests/slurm/gpu_check.smk"), "-d",
               str(tmp_path), *SLURM_ARGS]
    run_id = submit(cluster, lambda: subprocess.run(command, capture_output=True, text=True,
                                                    cwd=tmp_path))
    [job] = [job for job in cluster.jobs() if job["name"] == run_id]
    assert job["comment"] == "rule_ff_train"
    assert (job["state"], job["partition"], job["cpus"], job["memory"], job["time_limit"]) == (
        "COMPLETED", cluster.gpu_partition, "8", "32000M", "12:00:00")
    tres = cluster.run("squeue", "--states=all", "--noheader", f"--jobs={job['id']}",
                       "--Format=tres-per-job").stdout.strip()
    assert tres == "gres:gpu:1"
    seen = json.loads((tmp_path / "gpu_job.json").read_text())
    # the job step sees its one GPU and runs as a single rank (data parallelism degrades to it)
    assert seen == {"CUDA_VISIBLE_DEVICES": "0", "SLURM_JOB_PARTITION": cluster.gpu_partition,
                    "rank": 0, "world_size": 1, "threads": 1}
