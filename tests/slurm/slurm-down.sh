#!/usr/bin/env bash
# Stop everything slurm-up.sh started (same SLURM_BASE), by pid only, never by name, so a
# site's own SLURM or another test's daemons are never touched. Safe to run twice.
BASE=${SLURM_BASE:-${TMPDIR:-/tmp}/rlvr-slurm}
CONF="$BASE/etc/slurm.conf"

ctld_alive() { [ -s "$BASE/run/slurmctld.bgpid" ] && kill -0 "$(cat "$BASE/run/slurmctld.bgpid")" 2>/dev/null; }
# scancel hangs while slurmctld is down: only ask a live controller, with a timeout.
if ctld_alive; then
  timeout 10 scancel --full --user="$(id -un)" 2>/dev/null || true
  for _ in $(seq 30); do
    [ -z "$(timeout 5 squeue -h -t R,CG -o %i 2>/dev/null)" ] && break; sleep 0.5
  done
fi

stop() {  # $1 = pid file of a process we started
  [ -s "$1" ] || return 0
  local pid; pid=$(cat "$1")
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid"
    for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$pid" 2>/dev/null && kill -KILL "$pid"
  fi
  rm -f "$1"
}
stop "$BASE/run/slurmd.bgpid"
stop "$BASE/run/slurmctld.bgpid"
stop "$BASE/munge/munged.pid"
[ "$(readlink /etc/slurm/slurm.conf 2>/dev/null)" = "$CONF" ] && rm -f /etc/slurm/slurm.conf
true
