#!/usr/bin/env bash
# Start a real single-node SLURM cluster (munge, MariaDB, slurmdbd, slurmctld,
# slurmd) whose config, state, database and logs all live under STATE_DIR.
#
#   eval "$(slurm/cluster/start.sh /tmp/slurmtest)"   # exports SLURM_CONF
#   ...
#   slurm/cluster/stop.sh /tmp/slurmtest
#
# Progress goes to stderr; the only stdout line is `export SLURM_CONF=...`.
# Every wait is bounded; on timeout the relevant log tail is printed and the
# script exits non-zero (call stop.sh afterwards to clean up what did start).
#
# Env overrides: SLURM_TEST_DB_PORT (MariaDB TCP port, default 3307),
# SLURM_TEST_CLUSTER_NAME (default ci), SLURM_TEST_TIMEOUT (seconds per wait,
# default 60).
set -euo pipefail

if [ "$#" -ne 1 ] || [ -z "$1" ]; then
    echo "usage: $0 STATE_DIR" >&2
    exit 2
fi
if [ "$(id -u)" -ne 0 ]; then
    echo "start.sh: must run as root" >&2
    exit 1
fi

# The daemons live in /usr/sbin, which a non-login PATH may lack.
export PATH="$PATH:/usr/sbin:/sbin"

DB_PORT="${SLURM_TEST_DB_PORT:-3307}"
CLUSTER="${SLURM_TEST_CLUSTER_NAME:-ci}"
TIMEOUT="${SLURM_TEST_TIMEOUT:-60}"

mkdir -p "$1"
STATE_DIR="$(cd "$1" && pwd -P)"        # absolute: daemons chdir elsewhere
# STATE_DIR belongs to the cluster and stop.sh deletes it; refuse a directory
# with someone else's files in it. The marker tells stop.sh it may remove it.
if [ ! -e "$STATE_DIR/.slurm-test-cluster" ] && [ -n "$(ls -A "$STATE_DIR")" ]; then
    echo "start.sh: $STATE_DIR is not empty and was not made by start.sh" >&2
    exit 1
fi
touch "$STATE_DIR/.slurm-test-cluster"
ETC="$STATE_DIR/etc"
LOG="$STATE_DIR/log"
RUN="$STATE_DIR/state"                   # slurm state + pid files
DB="$STATE_DIR/db"                       # MariaDB: owned by mysql
export SLURM_CONF="$ETC/slurm.conf"

T0=$(date +%s%N)
# Progress lines carry the seconds since start.sh began.
say() {
    local ms=$(( ($(date +%s%N) - T0) / 1000000 ))
    printf 'start.sh: [%d.%03ds] %s\n' $((ms / 1000)) $((ms % 1000)) "$*" >&2
}
die() { echo "start.sh: ERROR: $*" >&2; echo "start.sh: run stop.sh $STATE_DIR to clean up" >&2; exit 1; }

# Print the tail of each named log file (those that exist) to stderr.
show_logs() {
    local f
    for f in "$@"; do
        [ -f "$f" ] || continue
        echo "----- tail of $f -----" >&2
        tail -n 40 "$f" >&2 || true
    done
}

# Extra diagnostics printed when a wait fails (redefined where useful).
fail_hook() { :; }

# wait_for DESC PID_OR_EMPTY "LOGS..." CMD...: poll CMD every 0.2 s until it
# succeeds, for at most $TIMEOUT s. If PID is given and that process dies,
# fail at once instead of waiting out the timeout.
wait_for() {
    local desc="$1" pid="$2" logs="$3"; shift 3
    local deadline=$(( $(date +%s) + TIMEOUT ))
    until "$@" >/dev/null 2>&1; do
        if [ -n "$pid" ] && ! alive "$pid"; then
            # shellcheck disable=SC2086 # logs is a space-separated list
            show_logs $logs
            fail_hook
            die "$desc: process $pid exited"
        fi
        if [ "$(date +%s)" -ge "$deadline" ]; then
            # shellcheck disable=SC2086
            show_logs $logs
            fail_hook
            die "$desc: not ready after ${TIMEOUT}s"
        fi
        sleep 0.2
    done
}

# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

# pid_alive PIDFILE: the pid file names a live process.
pid_alive() {
    local pid
    [ -s "$1" ] || return 1
    pid="$(cat "$1" 2>/dev/null)" || return 1
    [ -n "$pid" ] && alive "$pid"
}

# Daemons that fork into the background write their pid file a moment later.
read_pid() {
    wait_for "pid file $1" "" "" test -s "$1"
    cat "$1"
}

for cmd in munged mariadbd mariadb-install-db slurmdbd slurmctld slurmd sacctmgr sinfo; do
    command -v "$cmd" >/dev/null 2>&1 || die "$cmd not found; run slurm/cluster/install.sh"
done

# A second cluster would clash on the fixed slurm ports (6817-6819).
# (Zombies of a just-stopped cluster do not count.)
for d in slurmctld slurmd slurmdbd; do
    for pid in $(pgrep -x "$d" || true); do
        if alive "$pid"; then
            die "a $d is already running (pid $pid); one local cluster per machine"
        fi
    done
done

# slurm.conf has no quoting: a path with blanks would break it.
case "$STATE_DIR" in
    *[[:space:]]*) die "STATE_DIR must not contain blanks: '$STATE_DIR'" ;;
esac

mkdir -p "$ETC" "$LOG" "$RUN/ctld" "$RUN/d" "$DB"
chmod 755 "$STATE_DIR" "$ETC" "$LOG"
# Stale pid files (a reused STATE_DIR after a failed start) would be read as
# the new daemons' pids.
rm -f "$RUN/slurmdbd.pid" "$RUN/slurmctld.pid" "$RUN/slurmd.pid"

# MariaDB's datadir, socket, pid and log must be writable by mysql, so every
# parent of STATE_DIR must be traversable by mysql (not e.g. pytest's 0700
# tmp_path). Checked before anything is started.
chown mysql:mysql "$DB"
chmod 750 "$DB"
touch "$LOG/mariadb.log"
chown mysql:mysql "$LOG/mariadb.log"
runuser -u mysql -- test -w "$DB" \
    || die "user mysql cannot write $DB; a parent directory of $STATE_DIR is not traversable (chmod o+x it, or use a STATE_DIR under /tmp)"

DB_SOCK="$DB/mysqld.sock"
DB_PID="$DB/mariadbd.pid"
if pid_alive "$DB_PID"; then
    die "MariaDB already running for $STATE_DIR; run stop.sh first"
fi

# ---------------------------------------------------------------- munge
if munge -n 2>/dev/null | unmunge >/dev/null 2>&1; then
    say "munge already running; leaving it alone"
else
    [ -s /etc/munge/munge.key ] || die "/etc/munge/munge.key missing; run install.sh"
    mkdir -p /run/munge
    chown munge:munge /run/munge
    # --force: a stale socket/lock from a killed munged must not block us.
    runuser -u munge -- munged --force --pid-file=/run/munge/munged.pid </dev/null >>"$LOG/munged.out" 2>&1 \
        || { show_logs "$LOG/munged.out" /var/log/munge/munged.log; die "munged failed to start"; }
    wait_for "munge" "" "/var/log/munge/munged.log" sh -c 'munge -n | unmunge'
    # Record that we own this munged, so stop.sh stops it (and only then).
    echo /run/munge/munged.pid >"$STATE_DIR/munged.started"
    say "munged started"
fi

# -------------------------------------------------------------- MariaDB
if [ ! -d "$DB/data/mysql" ]; then
    rm -rf "$DB/data"
    say "initialising MariaDB datadir"
    mariadb-install-db --no-defaults --user=mysql --datadir="$DB/data" \
        --auth-root-authentication-method=socket --skip-test-db \
        >>"$LOG/mariadb-install.log" 2>&1 \
        || { show_logs "$LOG/mariadb-install.log"; die "mariadb-install-db failed"; }
fi
# A throw-away test database: trade durability for speed (slurmdbd creates
# its schema on first start). --skip-name-resolve: no DNS on the CI machine.
# setsid + redirects: detach from the caller's session and pipes, so a caller
# capturing our output is not kept waiting by the daemon. (This script has no
# job control, so setsid does not fork and $! is mariadbd itself.)
setsid mariadbd --no-defaults --user=mysql --datadir="$DB/data" \
    --socket="$DB_SOCK" --pid-file="$DB_PID" --log-error="$LOG/mariadb.log" \
    --port="$DB_PORT" --bind-address=127.0.0.1 --skip-name-resolve \
    --innodb-flush-log-at-trx-commit=0 --skip-innodb-doublewrite \
    --innodb-lock-wait-timeout=900 \
    </dev/null >>"$LOG/mariadb.log" 2>&1 &
db_launch_pid=$!
wait_for "MariaDB on port $DB_PORT" "$db_launch_pid" "$LOG/mariadb.log" \
    mariadb-admin --no-defaults --socket="$DB_SOCK" ping
say "MariaDB started on 127.0.0.1:$DB_PORT"

# slurmdbd's own DB user; a fresh random password per start.
DB_PASS="$(head -c 18 /dev/urandom | base64 | tr -dc 'A-Za-z0-9')"
mariadb --no-defaults --socket="$DB_SOCK" -u root <<SQL \
    || die "could not create the slurm DB user"
CREATE USER IF NOT EXISTS 'slurm'@'localhost' IDENTIFIED BY '$DB_PASS';
CREATE USER IF NOT EXISTS 'slurm'@'127.0.0.1' IDENTIFIED BY '$DB_PASS';
ALTER USER 'slurm'@'localhost' IDENTIFIED BY '$DB_PASS';
ALTER USER 'slurm'@'127.0.0.1' IDENTIFIED BY '$DB_PASS';
GRANT ALL ON slurm_acct_db.* TO 'slurm'@'localhost';
GRANT ALL ON slurm_acct_db.* TO 'slurm'@'127.0.0.1';
FLUSH PRIVILEGES;
SQL

# --------------------------------------------------------------- config
# Node hardware exactly as slurmd sees it: a larger RealMemory (or more CPUs)
# than detected would mark the node INVAL and every job would stay pending.
NODE_HW="$(slurmd -C | head -n 1 | sed -e 's/^NodeName=[^ ]* *//')"
case "$NODE_HW" in
    *RealMemory=*) ;;
    *) die "unexpected 'slurmd -C' output: $NODE_HW" ;;
esac

cat >"$ETC/slurm.conf" <<EOF
# Written by slurm/cluster/start.sh; single-node test cluster.
ClusterName=$CLUSTER
SlurmctldHost=localhost
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
StateSaveLocation=$RUN/ctld
SlurmdSpoolDir=$RUN/d
SlurmctldPidFile=$RUN/slurmctld.pid
SlurmdPidFile=$RUN/slurmd.pid
SlurmctldLogFile=$LOG/slurmctld.log
SlurmdLogFile=$LOG/slurmd.log
# cgroup plugins drain the node here (no freezer cgroup): use linuxproc/none.
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
MpiDefault=none
MailProg=/bin/true
# Accounting through slurmdbd, so sacct (and submitit's job states) work.
AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=localhost
JobAcctGatherType=jobacct_gather/linux
JobCompType=jobcomp/none
# The default batch_sched_delay (3 s) would delay every job start.
SchedulerType=sched/backfill
SchedulerParameters=batch_sched_delay=0
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
# Cancelled jobs get SIGKILL 5 s after SIGTERM (default 30 s).
KillWait=5
NodeName=localhost NodeAddr=127.0.0.1 $NODE_HW State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
EOF

# slurmdbd reads slurmdbd.conf from the directory of SLURM_CONF. It holds a
# password, and slurmdbd insists on mode 600 owned by SlurmUser.
(
    umask 077
    cat >"$ETC/slurmdbd.conf" <<EOF
# Written by slurm/cluster/start.sh
AuthType=auth/munge
DbdHost=localhost
SlurmUser=root
LogFile=$LOG/slurmdbd.log
PidFile=$RUN/slurmdbd.pid
StorageType=accounting_storage/mysql
StorageHost=127.0.0.1
StoragePort=$DB_PORT
StorageUser=slurm
StoragePass=$DB_PASS
StorageLoc=slurm_acct_db
EOF
)
chmod 600 "$ETC/slurmdbd.conf"

# ------------------------------------------------------------- slurmdbd
slurmdbd </dev/null >>"$LOG/slurmdbd.out" 2>&1 \
    || { show_logs "$LOG/slurmdbd.out" "$LOG/slurmdbd.log"; die "slurmdbd failed to start"; }
dbd_pid="$(read_pid "$RUN/slurmdbd.pid")"
say "slurmdbd running; waiting for it to answer"
wait_for "slurmdbd" "$dbd_pid" "$LOG/slurmdbd.log $LOG/mariadb.log" \
    timeout 10 sacctmgr -n list cluster
# Register the cluster so slurmctld's job records (and sacct) have a home.
if ! sacctmgr -n -P list cluster format=Cluster 2>/dev/null | grep -qx "$CLUSTER"; then
    sacctmgr -i add cluster "$CLUSTER" >>"$LOG/sacctmgr.out" 2>&1 \
        || { show_logs "$LOG/sacctmgr.out" "$LOG/slurmdbd.log"; die "sacctmgr add cluster $CLUSTER failed"; }
fi
say "slurmdbd started; cluster '$CLUSTER' registered"

# ----------------------------------------------------- slurmctld, slurmd
slurmctld </dev/null >>"$LOG/slurmctld.out" 2>&1 \
    || { show_logs "$LOG/slurmctld.out" "$LOG/slurmctld.log"; die "slurmctld failed to start"; }
ctld_pid="$(read_pid "$RUN/slurmctld.pid")"
wait_for "slurmctld" "$ctld_pid" "$LOG/slurmctld.log" timeout 10 scontrol ping
say "slurmctld answers"

slurmd </dev/null >>"$LOG/slurmd.out" 2>&1 \
    || { show_logs "$LOG/slurmd.out" "$LOG/slurmd.log"; die "slurmd failed to start"; }
slurmd_pid="$(read_pid "$RUN/slurmd.pid")"

node_idle() {
    [ "$(timeout 10 sinfo -h -n localhost -o %T 2>/dev/null)" = "idle" ]
}
fail_hook() {
    # e.g. INVAL/DRAIN with a reason such as a cgroup or memory mismatch
    timeout 10 scontrol show node localhost >&2 || true
}
wait_for "node localhost idle" "$slurmd_pid" "$LOG/slurmd.log $LOG/slurmctld.log" node_idle

say "cluster '$CLUSTER' up; logs in $LOG"
echo "export SLURM_CONF=$SLURM_CONF"
