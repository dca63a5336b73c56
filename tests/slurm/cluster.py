"""A throw-away single-node SLURM cluster on localhost: munged, slurmctld and slurmd.

Every file the daemons use (configuration, munge key and socket, state, spool, logs) lives in
one directory, so the cluster never touches /etc/slurm or a system munged. No slurmdbd: the
controller keeps finished jobs for `MinJobAge` seconds (so `squeue --states=all` lists them)
and writes one line per finished job to a job-completion file.
"""

from __future__ import annotations

import getpass
import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

SBIN = ("/usr/sbin", "/usr/local/sbin")

SLURM_CONF = """\
ClusterName=distillery
SlurmctldHost={host}(127.0.0.1)
SlurmctldPort={ctld_port}
SlurmdPort={slurmd_port}
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket={root}/munge/munge.socket
StateSaveLocation={root}/state
SlurmdSpoolDir={root}/spool
SlurmctldPidFile={root}/run/slurmctld.pid
SlurmdPidFile={root}/run/slurmd.pid
SlurmctldLogFile={root}/log/slurmctld.log
SlurmdLogFile={root}/log/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
# no cgroups inside containers: track processes through /proc
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/filetxt
JobCompLoc={root}/log/jobcomp.txt
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
MpiDefault=none
ReturnToService=2
# finished jobs stay visible to squeue for ten minutes (status polling needs them)
MinJobAge=600
SchedulerParameters=sched_interval=1
# the node is declared as large as a typical GPU node, whatever this machine has
SlurmdParameters=config_overrides
GresTypes=gpu
NodeName={host} NodeAddr=127.0.0.1 CPUs={cpus} RealMemory={memory_mb} Gres=gpu:1 State=UNKNOWN
PartitionName={partition} Nodes={host} Default=YES MaxTime=INFINITE State=UP
PartitionName={gpu_partition} Nodes={host} Default=NO MaxTime=INFINITE State=UP
"""


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def find_tool(name: str) -> str:
    """Absolute path of a SLURM or munge executable (sbin is often not on PATH)."""
    found = shutil.which(name) or shutil.which(name, path=os.pathsep.join(SBIN))
    if found is None:
        raise FileNotFoundError(f"{name} not found; run tests/slurm/install.sh as root")
    return found


class LocalSlurm:
    """Start with `start()`, stop with `stop()`; `env` holds what client commands need."""

    def __init__(self, root: Path, partition: str = "debug", gpu_partition: str = "gpu",
                 cpus: int = 16, memory_mb: int = 128_000) -> None:
        self.root = Path(root)
        self.partition = partition
        self.gpu_partition = gpu_partition
        self.cpus = cpus
        self.memory_mb = memory_mb
        self.host = socket.gethostname().split(".")[0]
        self.conf = self.root / "slurm.conf"
        self.bin = self.root / "bin"
        # what client commands (and jobs, through sbatch --export=ALL) need to find this cluster
        self.client_vars = {"SLURM_CONF": str(self.conf),
                            "PATH": f"{self.bin}{os.pathsep}{os.environ.get('PATH', '')}"}
        self.env = {**os.environ, **self.client_vars}
        self._daemons: list[subprocess.Popen] = []

    def _write_config(self) -> None:
        for sub in ("munge", "state", "spool", "run", "log", "bin"):
            (self.root / sub).mkdir(parents=True, exist_ok=True)
        (self.root / "munge").chmod(0o700)
        key = self.root / "munge" / "munge.key"
        key.write_bytes(os.urandom(1024))
        key.chmod(0o400)
        self.conf.write_text(SLURM_CONF.format(
            host=self.host, root=self.root, cpus=self.cpus, memory_mb=self.memory_mb,
            partition=self.partition, gpu_partition=self.gpu_partition,
            ctld_port=_free_port(), slurmd_port=_free_port(),
        ))
        # One GPU as the scheduler sees it: a device file (any character device will do without
        # cgroups), so GPU requests are accepted, allocated and exported like on a GPU node.
        (self.root / "gres.conf").write_text(f"NodeName={self.host} Name=gpu File=/dev/null\n")
        # The slurm-jobstep executor drops SLURM_* variables (SLURM_CONF too) before its nested
        # srun; a cluster keeps slurm.conf at the compiled-in path, this one restores the variable.
        srun = self.bin / "srun"
        srun.write_text(f'#!/bin/sh\nSLURM_CONF={self.conf} exec {find_tool("srun")} "$@"\n')
        srun.chmod(0o755)

    def _spawn(self, *command: str) -> None:
        with (self.root / "log" / f"{Path(command[0]).name}.out").open("ab") as log:
            self._daemons.append(subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT,
                                                  env=self.env, start_new_session=True))

    def start(self, timeout: float = 60.0) -> None:
        self._write_config()
        munge = self.root / "munge"
        self._spawn(find_tool("munged"), "--foreground", "--force",
                    f"--key-file={munge / 'munge.key'}", f"--socket={munge / 'munge.socket'}",
                    f"--pid-file={munge / 'munged.pid'}", f"--seed-file={munge / 'seed'}",
                    f"--log-file={self.root / 'log' / 'munged.log'}")
        self._wait(lambda: (munge / "munge.socket").exists(), timeout, "munged socket")
        self._spawn(find_tool("slurmctld"), "-D", "-i", "-f", str(self.conf))
        self._spawn(find_tool("slurmd"), "-D", "-f", str(self.conf), "-N", self.host)
        self._wait(self._node_idle, timeout, "node idle in sinfo")

    def _node_idle(self) -> bool:
        result = self.run("sinfo", "--noheader", "--format=%T", check=False)
        return result.returncode == 0 and result.stdout.strip().rstrip("*") == "idle"

    def _wait(self, ready, timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while not ready():
            dead = [d.args[0] for d in self._daemons if d.poll() is not None]
            if dead or time.monotonic() > deadline:
                raise RuntimeError(f"local SLURM cluster: waiting for {what} failed "
                                   f"(exited: {dead or 'none'})\n{self.log_tail()}")
            time.sleep(0.5)

    def run(self, *command: str, check: bool = True) -> subprocess.CompletedProcess:
        """A client command (sinfo, squeue, scontrol, ...) against this cluster."""
        return subprocess.run([find_tool(command[0]), *command[1:]], env=self.env, text=True,
                              capture_output=True, check=check, timeout=60)

    def jobs(self) -> list[dict[str, str]]:
        """Every job the controller knows, finished ones included, as squeue reports it."""
        fields = {"id": "%i", "name": "%j", "comment": "%k", "state": "%T", "partition": "%P",
                  "time_limit": "%l", "memory": "%m", "cpus": "%C"}
        out = self.run("squeue", "--states=all", "--noheader",
                       "--format=" + "|".join(fields.values())).stdout
        return [dict(zip(fields, line.split("|"), strict=True)) for line in out.splitlines()]

    def completed_job_ids(self) -> set[str]:
        """Job ids in the controller's job-completion file (written when a job ends)."""
        path = self.root / "log" / "jobcomp.txt"
        if not path.exists():
            return set()
        return {field.split("=", 1)[1] for line in path.read_text().splitlines()
                for field in line.split() if field.startswith("JobId=")}

    def log_tail(self, lines: int = 30) -> str:
        tails = []
        for path in sorted((self.root / "log").glob("*")):
            text = path.read_text(errors="replace").splitlines()[-lines:]
            tails.append(f"--- {path.name}\n" + "\n".join(text))
        return "\n".join(tails)

    def stop(self) -> None:
        if self._daemons:
            self.run("scancel", "--full", f"--user={getpass.getuser()}", check=False)
        for daemon in reversed(self._daemons):
            daemon.terminate()
        for daemon in reversed(self._daemons):
            try:
                daemon.wait(timeout=20)
            except subprocess.TimeoutExpired:
                daemon.kill()
                daemon.wait()
        self._daemons.clear()
