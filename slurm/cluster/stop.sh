#!/usr/bin/env bash
# Stop the cluster that start.sh started in STATE_DIR and remove STATE_DIR.
# Safe to call twice, and after a failed or partial start: each daemon is
# stopped only if its pid file names a live process of the expected name.
set -euo pipefail

if [ "$#" -ne 1 ] || [ -z "$1" ]; then
    echo "usage: $0 STATE_DIR" >&2
    exit 2
fi
if [ ! -d "$1" ]; then
    echo "stop.sh: $1 does not exist; nothing to stop" >&2
    exit 0
fi

export PATH="$PATH:/usr/sbin:/sbin"
STATE_DIR="$(cd "$1" && pwd -P)"
RUN="$STATE_DIR/state"
export SLURM_CONF="$STATE_DIR/etc/slurm.conf"
WAIT="${SLURM_TEST_STOP_TIMEOUT:-30}"    # seconds per daemon

T0=$(date +%s%N)
# Progress lines carry the seconds since stop.sh began.
say() {
    local ms=$(( ($(date +%s%N) - T0) / 1000000 ))
    printf 'stop.sh: [%d.%03ds] %s\n' $((ms / 1000)) $((ms % 1000)) "$*" >&2
}

# Never rm -rf a directory start.sh did not set up (e.g. a mistyped path).
if [ ! -e "$STATE_DIR/.slurm-test-cluster" ]; then
    if rmdir "$STATE_DIR" 2>/dev/null; then
        exit 0                          # empty: start.sh failed at once
    fi
    say "$STATE_DIR has no .slurm-test-cluster marker; not touching it"
    exit 1
fi

# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

# pid_of NAME PIDFILE: print the pid if the file names a live process whose
# command is NAME (guards against a stale file and a recycled pid).
pid_of() {
    local name="$1" file="$2" pid
    [ -s "$file" ] || return 1
    pid="$(tr -dc '0-9' <"$file")"
    [ -n "$pid" ] || return 1
    [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = "$name" ] || return 1
    alive "$pid" || return 1
    echo "$pid"
}

# stop_daemon NAME PIDFILE: SIGTERM, wait up to $WAIT s, then SIGKILL.
stop_daemon() {
    local name="$1" file="$2" pid i
    pid="$(pid_of "$name" "$file")" || return 0
    kill -TERM "$pid" 2>/dev/null || return 0
    for ((i = 0; i < WAIT * 10; i++)); do
        alive "$pid" || { say "$name ($pid) stopped"; return 0; }
        sleep 0.1
    done
    say "$name ($pid) still running after ${WAIT}s; sending SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
    sleep 0.5
}

# Our job steps: slurmstepd processes inherit SLURM_CONF from our slurmd.
our_stepds() {
    local pid
    for pid in $(pgrep -x slurmstepd || true); do
        alive "$pid" || continue
        if tr '\0' '\n' 2>/dev/null <"/proc/$pid/environ" | grep -qxF "SLURM_CONF=$SLURM_CONF"; then
            echo "$pid"
        fi
    done
}

# Cancel remaining jobs first, so no job processes outlive the cluster
# (slurmd exiting does not end running jobs). KillWait in slurm.conf is 5 s.
if pid_of slurmctld "$RUN/slurmctld.pid" >/dev/null; then
    jobs="$(timeout 10 squeue -h -o %A 2>/dev/null || true)"
    if [ -n "$jobs" ]; then
        say "cancelling jobs: ${jobs//$'\n'/ }"
        # shellcheck disable=SC2086 # one job id per word
        timeout 10 scancel $jobs 2>/dev/null || true
    fi
fi
for ((i = 0; i < 150; i++)); do
    [ -z "$(our_stepds)" ] && break
    sleep 0.1
done
leftover="$(our_stepds)"
if [ -n "$leftover" ]; then
    say "killing leftover slurmstepd: $leftover"
    # shellcheck disable=SC2086
    kill -KILL $leftover 2>/dev/null || true
fi

stop_daemon slurmd "$RUN/slurmd.pid"
stop_daemon slurmctld "$RUN/slurmctld.pid"
stop_daemon slurmdbd "$RUN/slurmdbd.pid"
stop_daemon mariadbd "$STATE_DIR/db/mariadbd.pid"
# munged is shared with anything else on the machine: stop it only if
# start.sh started it.
if [ -s "$STATE_DIR/munged.started" ]; then
    stop_daemon munged "$(cat "$STATE_DIR/munged.started")"
fi

rm -rf "$STATE_DIR"
say "removed $STATE_DIR"
