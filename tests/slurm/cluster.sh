#!/usr/bin/env bash
# A one-node SLURM cluster on localhost for the tests (Debian, root, no systemd needed).
#
#   tests/slurm/cluster.sh start    install munge/slurmctld/slurmd/slurm-client if missing, write the
#                                   config, start the daemons that are not running, wait for "idle"
#   tests/slurm/cluster.sh stop     stop only the daemons that `start` started (their PIDs are recorded)
#   tests/slurm/cluster.sh status   what runs, and sinfo
#
# The node has every CPU of the machine and one fake GPU (a GRES backed by an empty file), so rules
# that ask for a GPU are scheduled as on a cluster. No slurmdbd: the profiles poll with squeue.
# STATIONARITY_SLURM_DIR moves the state, logs and PID files (default /var/tmp/stationarity-slurm).
set -euo pipefail

ACTION=${1:-status}
STATE=${STATIONARITY_SLURM_DIR:-/var/tmp/stationarity-slurm}
PARTITION=local
NODE=localhost
MARKER="# written by stationarity tests/slurm/cluster.sh"
STARTED="$STATE/started"  # "name pid" of each daemon this script started

say() { echo "cluster.sh: $*" >&2; }
fail() { say "ERROR: $*"; exit 1; }

# alive NAME PID: PID runs (not a zombie) and is NAME, so a reused PID is never mistaken for ours.
alive() {
    [ -n "${2:-}" ] && [ "$(cat "/proc/$2/comm" 2>/dev/null)" = "$1" ] &&
        [ "$(awk '{print $3}' "/proc/$2/stat" 2>/dev/null)" != Z ]
}
pid_in() { cat "$1" 2>/dev/null | tr -dc 0-9 || true; }
ours() { grep -qx "$1 $2" "$STARTED" 2>/dev/null; }

stop() {
    [ -s "$STARTED" ] || { say "nothing started by this script is recorded"; return 0; }
    local name pid
    while read -r name pid; do  # newest first: slurmd, slurmctld, munged
        alive "$name" "$pid" || continue
        say "stopping $name (pid $pid)"
        kill "$pid"
        for _ in $(seq 50); do alive "$name" "$pid" || break; sleep 0.2; done
        alive "$name" "$pid" && say "WARNING: $name (pid $pid) still runs after 10 s"
    done < <(tac "$STARTED")
    rm -f "$STARTED"
}

status() {
    local name file pid
    for name in munged slurmctld slurmd; do
        case $name in
            munged) file=/run/munge/munged.pid ;;
            *) file=$STATE/$name.pid ;;
        esac
        pid=$(pid_in "$file")
        if alive "$name" "$pid"; then
            echo "$name: pid $pid$(ours "$name" "$pid" && echo ", started by cluster.sh")"
        else
            echo "$name: not running"
        fi
    done
    command -v sinfo >/dev/null && sinfo || true
}

install_packages() {
    local missing=() package
    for package in munge slurmctld slurmd slurm-client; do
        dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "ok installed" ||
            missing+=("$package")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    say "installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# write_config FILE CONTENT: replace a file this script wrote; never one it did not.
CHANGED=0
write_config() {
    if [ -e "$1" ] && ! grep -qF "$MARKER" "$1"; then
        fail "$1 was not written by this script; move it away or use a machine without SLURM"
    fi
    if [ "$(cat "$1" 2>/dev/null)" != "$2" ]; then
        printf '%s\n' "$2" >"$1"
        CHANGED=1
    fi
}

configure() {
    mkdir -p "$STATE/state" "$STATE/spool" /etc/slurm
    : >"$STATE/fakegpu0"  # slurmd counts one GPU per File=; an empty file is accepted
    local memory
    memory=$(awk '/^MemTotal:/ {printf "%d", $2 / 1024 * 0.9}' /proc/meminfo)
    write_config /etc/slurm/slurm.conf "$MARKER
ClusterName=stationarity-test
SlurmctldHost=$NODE
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
StateSaveLocation=$STATE/state
SlurmdSpoolDir=$STATE/spool
SlurmctldPidFile=$STATE/slurmctld.pid
SlurmdPidFile=$STATE/slurmd.pid
SlurmctldLogFile=$STATE/slurmctld.log
SlurmdLogFile=$STATE/slurmd.log
# containers without cgroups: track processes by parentage, no CPU binding
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
# no slurmdbd: job states come from squeue, which keeps finished jobs for MinJobAge seconds
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
MinJobAge=300
ReturnToService=2
GresTypes=gpu
NodeName=$NODE NodeAddr=127.0.0.1 CPUs=$(nproc) RealMemory=$memory Gres=gpu:1 State=UNKNOWN
PartitionName=$PARTITION Nodes=$NODE Default=YES MaxTime=INFINITE State=UP"
    write_config /etc/slurm/gres.conf "$MARKER
NodeName=$NODE Name=gpu File=$STATE/fakegpu0"
}

# restart_ours_if_changed: a new config needs new daemons; only ours may be restarted.
restart_ours_if_changed() {
    [ "$CHANGED" = 1 ] || return 0
    local name pid
    for name in slurmd slurmctld; do
        pid=$(pid_in "$STATE/$name.pid")
        alive "$name" "$pid" || continue
        ours "$name" "$pid" || fail "the config changed but $name (pid $pid) was not started here"
        say "config changed: restarting $name"
        kill "$pid"
        for _ in $(seq 50); do alive "$name" "$pid" || break; sleep 0.2; done
        sed -i "/^$name $pid\$/d" "$STARTED"
    done
}

start_munged() {
    if munge -n 2>/dev/null | unmunge >/dev/null 2>&1; then return 0; fi
    mkdir -p /run/munge /var/lib/munge /var/log/munge
    chown munge:munge /run/munge /var/lib/munge /var/log/munge
    if [ ! -s /etc/munge/munge.key ]; then
        mungekey --create --keyfile=/etc/munge/munge.key
        chown munge:munge /etc/munge/munge.key
        chmod 400 /etc/munge/munge.key
    fi
    runuser -u munge -- /usr/sbin/munged
    for _ in $(seq 50); do munge -n 2>/dev/null | unmunge >/dev/null 2>&1 && break; sleep 0.1; done
    local pid
    pid=$(pid_in /run/munge/munged.pid)
    alive munged "$pid" || fail "munged did not start (see /var/log/munge/munged.log)"
    echo "munged $pid" >>"$STARTED"
}

# start_daemon NAME COMMAND...: start NAME unless its PID file names a live one.
start_daemon() {
    local name=$1 pid
    shift
    pid=$(pid_in "$STATE/$name.pid")
    alive "$name" "$pid" && return 0
    (cd / && "$@")
    for _ in $(seq 100); do
        pid=$(pid_in "$STATE/$name.pid")
        alive "$name" "$pid" && break
        sleep 0.1
    done
    alive "$name" "$pid" || { tail -5 "$STATE/$name.log" >&2; fail "$name did not start"; }
    echo "$name $pid" >>"$STARTED"
}

wait_until_idle() {
    local state="" resumed=0
    for _ in $(seq 240); do
        # a trailing * (e.g. idle*) means slurmd has not registered yet: jobs would wait ~30 s
        state=$(sinfo -h -n "$NODE" -o %t 2>/dev/null | head -1 || true)
        case $state in
            idle | mix | alloc) return 0 ;;
            inval* | down | drain*)
                [ $resumed = 1 ] || scontrol update nodename="$NODE" state=resume || true
                resumed=1 ;;
        esac
        sleep 0.25
    done
    sinfo -R >&2 || true
    fail "node $NODE is '$state', not idle, after 60 s (logs in $STATE)"
}

case $ACTION in
    start)
        [ "$(id -u)" = 0 ] || fail "run as root (it installs packages and starts daemons)"
        install_packages
        mkdir -p "$STATE"
        configure
        restart_ours_if_changed
        start_munged
        start_daemon slurmctld slurmctld
        start_daemon slurmd slurmd -N "$NODE"  # the node is "localhost" whatever the hostname
        wait_until_idle
        say "partition $PARTITION on $NODE is idle"
        ;;
    stop) stop ;;
    status) status ;;
    *) fail "usage: $0 start|stop|status" ;;
esac
