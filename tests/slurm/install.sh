#!/usr/bin/env bash
# Installs the Debian packages of a single-node SLURM cluster (slurmctld, slurmd, client
# commands, munge) when any of them is missing; a no-op when they are all present.
set -euo pipefail

missing=0
for tool in slurmctld slurmd sbatch squeue scontrol munged; do
    command -v "$tool" >/dev/null 2>&1 || PATH="$PATH:/usr/sbin" command -v "$tool" >/dev/null 2>&1 || missing=1
done
[ "$missing" = 0 ] && exit 0

if [ "$(id -u)" != 0 ]; then
    echo "SLURM or munge is missing and installing them needs root:" \
        "apt-get install slurmctld slurmd slurm-client munge" >&2
    exit 3
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends slurmctld slurmd slurm-client munge >/dev/null
