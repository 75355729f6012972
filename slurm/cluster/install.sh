#!/usr/bin/env bash
# Install the Debian packages for a local single-node SLURM cluster
# (munge, slurmctld, slurmd, slurmdbd, client tools, MariaDB for accounting).
# Idempotent: does nothing when every needed command is already present.
set -euo pipefail

# The daemons live in /usr/sbin, which a non-login PATH may lack.
export PATH="$PATH:/usr/sbin:/sbin"

missing=0
for cmd in slurmctld slurmd sbatch sacct slurmdbd mariadbd munged; do
    command -v "$cmd" >/dev/null 2>&1 || missing=1
done
if [ "$missing" -eq 0 ]; then
    echo "slurm cluster packages already installed"
    exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
    echo "install.sh: must run as root (apt-get install)" >&2
    exit 1
fi

# No debconf prompts. Without systemd the packages' own service starts are
# skipped; start.sh starts every daemon by hand.
export DEBIAN_FRONTEND=noninteractive
apt-get update
apt-get install -y --no-install-recommends \
    slurmctld slurmd slurm-client munge slurmdbd mariadb-server

# munge needs a shared key; Debian's package normally creates it.
if [ ! -s /etc/munge/munge.key ]; then
    mungekey --create --keyfile=/etc/munge/munge.key
    chown munge:munge /etc/munge/munge.key
    chmod 400 /etc/munge/munge.key
fi

echo "slurm cluster packages installed"
