#!/usr/bin/env bash
# Start a real single-node SLURM cluster on 127.0.0.1 (munged + slurmctld + slurmd) with one
# fake GPU, for tests/test_slurm.py and for trying profiles/slurm by hand. Debian 12, root.
# Adapted from the measured recipe in ../shared/recipes/slurm (kept here so the project does
# not depend on that folder). Stop it with slurm-down.sh (same SLURM_BASE).
#
#   SLURM_BASE   folder for config, state, logs and pid files (default ${TMPDIR:-/tmp}/rlvr-slurm)
#
# Exit status: 0 cluster idle and accepting jobs; 77 slurm/munge missing and cannot be
# installed here (the test skips on 77 only); anything else is a real failure.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
BASE=${SLURM_BASE:-${TMPDIR:-/tmp}/rlvr-slurm}

pkgs="slurm-wlm munge"
missing=""; for p in $pkgs; do dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"; done
if [ -n "$missing" ]; then
  if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
    echo "slurm-up: missing packages:$missing and no root apt-get to install them" >&2; exit 77
  fi
  # The image's policy-rc.d keeps postinst from starting the packaged services: we start
  # our own daemons below, with our own config.
  if ! { apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
         apt-get install -y -qq --no-install-recommends $missing >/dev/null; }; then
    echo "slurm-up: apt-get install$missing failed" >&2; exit 77
  fi
fi
[ "$(id -u)" = 0 ] || { echo "slurm-up: must run as root (munge user, /etc/slurm)" >&2; exit 77; }

for d in slurmctld slurmd; do
  if [ -s "$BASE/run/$d.bgpid" ] && kill -0 "$(cat "$BASE/run/$d.bgpid")" 2>/dev/null; then
    echo "slurm-up: $d already running from $BASE; run slurm-down.sh first" >&2; exit 1
  fi
done
# From here on, a failed start stops whatever it did start.
trap '[ $? -eq 0 ] || "$HERE/slurm-down.sh"' EXIT
mkdir -p "$BASE"/{etc,log,run,munge,state/ctld,state/d}
CONF="$BASE/etc/slurm.conf"

# munge: our own key under $BASE, the DEFAULT socket (slurm's clients ignore other paths);
# the socket folder must be world-executable or non-root clients cannot authenticate.
mkdir -p /run/munge; chown munge:munge /run/munge; chmod 0755 /run/munge
chown munge:munge "$BASE/munge"; chmod 0700 "$BASE/munge"
runuser -u munge -- test -w "$BASE/munge" || { echo "slurm-up: user munge cannot reach $BASE/munge;" \
  "every folder above it needs o+x (pytest's own tmp folders are 0700)" >&2; exit 1; }
[ -s "$BASE/munge/munge.key" ] || dd if=/dev/urandom of="$BASE/munge/munge.key" bs=1024 count=1 status=none
chown munge:munge "$BASE/munge/munge.key"; chmod 0400 "$BASE/munge/munge.key"
runuser -u munge -- /usr/sbin/munged --key-file="$BASE/munge/munge.key" \
  --pid-file="$BASE/munge/munged.pid" --seed-file="$BASE/munge/munged.seed" \
  --log-file="$BASE/munge/munged.log"        # daemonizes; its pid lands in munged.pid
for _ in $(seq 50); do [ -S /run/munge/munge.socket.2 ] && break; sleep 0.1; done
munge -n | unmunge >/dev/null

# slurm.conf from the real hardware, with head-room so the node is never drained for
# "Low RealMemory".
read -r CPUS MEM < <(slurmd -C | awk '/^NodeName/{for(i=1;i<=NF;i++){split($i,a,"=");
  if(a[1]=="CPUs")c=a[2]; if(a[1]=="RealMemory")m=a[2]} print c, m}')
sed -e "s#@BASE@#$BASE#g" -e "s#@CPUS@#$CPUS#g" -e "s#@MEM@#$((MEM - 512))#g" \
  "$HERE/slurm.conf.in" > "$CONF"
printf 'AutoDetect=off\nNodeName=localhost Name=gpu Count=1 File=/dev/null\n' > "$BASE/etc/gres.conf"

# Clients must find the config without $SLURM_CONF: the jobstep executor strips every
# SLURM_* variable before its nested `srun`. slurm-down.sh removes this link again.
mkdir -p /etc/slurm
if [ -e /etc/slurm/slurm.conf ] && [ ! -L /etc/slurm/slurm.conf ]; then
  echo "slurm-up: /etc/slurm/slurm.conf is a real file (a site SLURM?); not touching it" >&2; exit 1
fi
ln -sfn "$CONF" /etc/slurm/slurm.conf

# Daemons in foreground mode, backgrounded, so their pids are ours to stop.
slurmctld -D -i -f "$CONF" >"$BASE/log/slurmctld.stdout" 2>&1 &
echo $! > "$BASE/run/slurmctld.bgpid"
slurmd -D -N localhost -f "$CONF" >"$BASE/log/slurmd.stdout" 2>&1 &
echo $! > "$BASE/run/slurmd.bgpid"

# Wait for the node to be idle; sinfo hangs while slurmctld is down, hence `timeout`.
st=""
for _ in $(seq 60); do
  for d in slurmctld slurmd; do
    kill -0 "$(cat "$BASE/run/$d.bgpid")" 2>/dev/null || { echo "slurm-up: $d died:" >&2;
      tail -n 20 "$BASE/log/$d.stdout" "$BASE/log/$d.log" >&2 || true; exit 1; }
  done
  st=$(timeout 5 sinfo -h -N -n localhost -o %t 2>/dev/null | head -n 1 || true)
  case "$st" in idle*) break ;; esac
  sleep 1
done
case "$st" in idle*) ;; *) echo "slurm-up: node not idle: '$st'" >&2
  timeout 5 scontrol show node localhost >&2 || true; exit 1 ;; esac
timeout 5 sinfo -o '%P %a %D %t %c %m %G'
echo "slurm up: config /etc/slurm/slurm.conf -> $CONF"
