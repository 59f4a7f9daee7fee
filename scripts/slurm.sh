#!/usr/bin/env bash
# A one-node SLURM on loopback, for qlaunch tests and one-machine use.
#
#   scripts/slurm.sh start [DIR]    # idempotent; prints `export SLURM_CONF=DIR/slurm.conf` on stdout
#   scripts/slurm.sh status [DIR]   # exit 0 when the node answers and is usable
#   scripts/slurm.sh stop [DIR]     # stops slurmd, slurmctld and the munged this script started
#
#   eval "$(sudo scripts/slurm.sh start)" && sbatch --wrap hostname
#
# DIR (default $SEIFLOW_SLURM_DIR or /tmp/seiflow-slurm) holds slurm.conf, state, spool, logs and pid files.
# Needs root and the Debian packages slurmctld slurmd slurm-client munge (scripts/install-system.sh).
# Daemons listen on 127.0.0.1 only (CommunicationParameters=NoInAddrAny,NoCtldInAddrAny): never 0.0.0.0.
# Ports: SEIFLOW_SLURMCTLD_PORT (6817) and SEIFLOW_SLURMD_PORT (6818).
set -euo pipefail

ACTION="${1:-status}"
DIR="$(realpath -m "${2:-${SEIFLOW_SLURM_DIR:-/tmp/seiflow-slurm}}")"
CONF="$DIR/slurm.conf"
NODE="$(hostname -s)"
CPUS="$(nproc)"
CTLD_PORT="${SEIFLOW_SLURMCTLD_PORT:-6817}"
SLURMD_PORT="${SEIFLOW_SLURMD_PORT:-6818}"
MUNGE_SOCKET=/run/munge/munge.socket.2
export SLURM_CONF="$CONF"

log() { echo "slurm.sh: $*" >&2; }
die() { log "error: $*"; exit 1; }

need_root() {
  [ "$(id -u)" -eq 0 ] || die "run as root (sudo scripts/slurm.sh $ACTION)"
  for cmd in slurmctld slurmd sinfo sbatch munged; do
    command -v "$cmd" >/dev/null || die "$cmd not found: run scripts/install-system.sh"
  done
}

write_conf() {
  mkdir -p "$DIR/state" "$DIR/spool" "$DIR/log"
  cat >"$CONF" <<EOF
# Written by scripts/slurm.sh: one node on loopback, no accounting.
ClusterName=seiflow
SlurmctldHost=${NODE}(127.0.0.1)
SlurmctldPort=${CTLD_PORT}
SlurmdPort=${SLURMD_PORT}
CommunicationParameters=NoInAddrAny,NoCtldInAddrAny
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
StateSaveLocation=${DIR}/state
SlurmdSpoolDir=${DIR}/spool
SlurmctldPidFile=${DIR}/slurmctld.pid
SlurmdPidFile=${DIR}/slurmd.pid
SlurmctldLogFile=${DIR}/log/slurmctld.log
SlurmdLogFile=${DIR}/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerType=sched/backfill
MpiDefault=none
ReturnToService=2
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
MailProg=/bin/true
SlurmctldTimeout=30
SlurmdTimeout=60
InactiveLimit=0
MinJobAge=300
KillWait=5
Waittime=0
NodeName=${NODE} NodeAddr=127.0.0.1 NodeHostname=${NODE} CPUs=${CPUS} State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP OverSubscribe=NO
EOF
}

pid_alive() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

start_munge() {
  if [ ! -s /etc/munge/munge.key ]; then
    log "creating /etc/munge/munge.key"
    mkdir -p /etc/munge
    mungekey --create --keyfile=/etc/munge/munge.key
    chown munge:munge /etc/munge/munge.key
    chmod 0400 /etc/munge/munge.key
  fi
  if [ -S "$MUNGE_SOCKET" ] && munge -n </dev/null >/dev/null 2>&1; then
    return 0
  fi
  mkdir -p /run/munge /var/lib/munge /var/log/munge
  chown munge:munge /run/munge /var/lib/munge /var/log/munge
  chmod 0755 /run/munge
  log "starting munged"
  runuser -u munge -- /usr/sbin/munged --force
  touch "$DIR/munged.ours"
  for _ in $(seq 50); do
    munge -n </dev/null >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  die "munged did not start (see /var/log/munge/munged.log)"
}

node_state() { sinfo -h -n "$NODE" -o %t 2>/dev/null | head -1; }

wait_idle() {
  local state=""
  for i in $(seq 120); do
    state="$(node_state || true)"
    case "$state" in idle|mix|alloc|comp) return 0 ;; esac
    if [ "$i" -eq 20 ] && [[ "$state" == drain* || "$state" == down* ]]; then
      log "node $NODE is '$state' (left from an earlier run): resuming it"
      scontrol update NodeName="$NODE" State=RESUME >/dev/null 2>&1 || true
    fi
    sleep 0.25
  done
  die "node $NODE not idle after 30 s (state '${state}'); see $DIR/log/"
}

check_loopback() {
  # Every socket slurmctld/slurmd listens on must be on 127.0.0.1.
  local bad
  command -v ss >/dev/null || { log "warning: ss not found (iproute2): listening addresses not checked"; return 0; }
  bad="$(ss -ltnpH 2>/dev/null | grep -E '"slurm(ctld|d)"' | awk '{print $4}' | grep -v '^127\.0\.0\.1:' || true)"
  [ -z "$bad" ] || die "SLURM listens beyond loopback: $bad"
}

do_start() {
  need_root
  mkdir -p "$DIR"
  # Rewrite slurm.conf only when no daemon uses it (a running one keeps the config it started with).
  if ! pid_alive "$DIR/slurmctld.pid" && ! pid_alive "$DIR/slurmd.pid"; then
    write_conf
  fi
  start_munge
  if ! pid_alive "$DIR/slurmctld.pid"; then
    log "starting slurmctld"
    slurmctld -f "$CONF"
  fi
  if ! pid_alive "$DIR/slurmd.pid"; then
    log "starting slurmd"
    slurmd -f "$CONF"
  fi
  wait_idle
  check_loopback
  log "node $NODE is $(node_state) ($CPUS CPUs); config $CONF"
  echo "export SLURM_CONF=$CONF"
}

do_status() {
  [ -f "$CONF" ] || { log "not configured ($CONF missing)"; exit 1; }
  pid_alive "$DIR/slurmctld.pid" || { log "slurmctld not running"; exit 1; }
  pid_alive "$DIR/slurmd.pid" || { log "slurmd not running"; exit 1; }
  local state
  state="$(node_state || true)"
  case "$state" in
    idle|mix|alloc|comp) log "node $NODE is $state; config $CONF"; echo "export SLURM_CONF=$CONF" ;;
    *) log "node $NODE state '${state}'"; exit 1 ;;
  esac
}

stop_pid() {
  local name="$1" file="$2" pid
  pid="$(cat "$file" 2>/dev/null || true)"
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
    log "stopping $name"
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  fi
  rm -f "$file"
}

do_stop() {
  need_root
  stop_pid slurmd "$DIR/slurmd.pid"
  stop_pid slurmctld "$DIR/slurmctld.pid"
  if [ -f "$DIR/munged.ours" ]; then
    log "stopping munged"
    /usr/sbin/munged --stop >/dev/null 2>&1 || true
    rm -f "$DIR/munged.ours"
  fi
}

case "$ACTION" in
  start) do_start ;;
  stop) do_stop ;;
  status) do_status ;;
  *) die "usage: $0 start|stop|status [DIR]" ;;
esac
