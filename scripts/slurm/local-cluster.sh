#!/usr/bin/env bash
# A one-node Slurm cluster on this machine, for the tests: munged, slurmctld and slurmd as root, one
# partition "local" with this host's CPUs, no accounting, no cgroups.
#   scripts/slurm/local-cluster.sh start    (idempotent: does nothing if sinfo already answers)
#   scripts/slurm/local-cluster.sh stop     (only what this script started; state in /run/pipeline-slurm)
# Needs Debian's slurm-wlm and munge (scripts/install-test-deps.sh installs them) and root.
set -euo pipefail
state=/run/pipeline-slurm
conf=/etc/slurm/slurm.conf

die() { echo "local-cluster.sh: $*" >&2; exit 2; }

start() {
  if sinfo -h >/dev/null 2>&1; then echo "slurm already answers (sinfo)"; return 0; fi
  command -v slurmctld >/dev/null && command -v slurmd >/dev/null && command -v munged >/dev/null ||
    die "slurm-wlm and munge are not installed: run scripts/install-test-deps.sh (apt-get install slurm-wlm munge)"
  [[ $(id -u) -eq 0 ]] || die "must run as root (it starts munged, slurmctld and slurmd)"
  mkdir -p "$state" /etc/munge /var/log/munge /run/munge /var/lib/munge /var/spool/slurmctld /var/spool/slurmd /var/log/slurm
  if [[ ! -s /etc/munge/munge.key ]]; then
    dd if=/dev/urandom of=/etc/munge/munge.key bs=1024 count=1 status=none
  fi
  chown -R munge:munge /etc/munge /var/log/munge /run/munge /var/lib/munge 2>/dev/null || true
  chmod 0400 /etc/munge/munge.key
  if ! pgrep -x munged >/dev/null; then
    runuser -u munge -- munged
    touch "$state/munged"
  fi
  local host cpus mem
  host=$(hostname -s)
  cpus=$(nproc)
  mem=$(awk '/MemTotal/ { print int($2 / 1024 * 0.9) }' /proc/meminfo)
  if [[ -e $conf && ! -e $state/conf ]]; then cp "$conf" "$state/slurm.conf.before"; fi
  mkdir -p /etc/slurm
  cat >"$conf" <<CONF
ClusterName=pipeline-local
SlurmctldHost=$host
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
StateSaveLocation=/var/spool/slurmctld
SlurmdSpoolDir=/var/spool/slurmd
SlurmctldPidFile=$state/slurmctld.pid
SlurmdPidFile=$state/slurmd.pid
SlurmctldLogFile=/var/log/slurm/slurmctld.log
SlurmdLogFile=/var/log/slurm/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
MpiDefault=none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SlurmctldTimeout=30
SlurmdTimeout=30
InactiveLimit=0
KillWait=10
MinJobAge=300
NodeName=$host CPUs=$cpus RealMemory=$mem State=UNKNOWN
PartitionName=local Nodes=$host Default=YES MaxTime=INFINITE State=UP OverSubscribe=NO
CONF
  touch "$state/conf"
  slurmctld -c
  slurmd
  touch "$state/daemons"
  for _ in $(seq 1 60); do
    if sinfo -h -o '%T' 2>/dev/null | grep -qE '^(idle|mixed|allocated)'; then
      echo "slurm up: $(sinfo -h -o '%P %D %c %T')"
      return 0
    fi
    sleep 0.5
  done
  die "slurm did not come up in 30 s; see /var/log/slurm/slurmctld.log and slurmd.log"
}

stop() {
  if [[ -e $state/daemons ]]; then
    scancel --user=root >/dev/null 2>&1 || true
    for p in slurmd slurmctld; do
      [[ -s $state/$p.pid ]] && kill "$(cat "$state/$p.pid")" 2>/dev/null || true
    done
    # Wait for them to exit, so that a start right after does not meet the old daemons.
    for _ in $(seq 1 30); do { pgrep -x slurmctld || pgrep -x slurmd; } >/dev/null || break; sleep 0.5; done
    rm -f "$state/daemons"
  fi
  if [[ -e $state/munged ]]; then
    pkill -x munged || true
    rm -f "$state/munged"
  fi
  if [[ -e $state/conf ]]; then
    if [[ -e $state/slurm.conf.before ]]; then mv "$state/slurm.conf.before" "$conf"; else rm -f "$conf"; fi
    rm -f "$state/conf"
  fi
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  *) die "usage: local-cluster.sh start|stop" ;;
esac
