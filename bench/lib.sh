# SPDX-License-Identifier: LGPL-2.1-or-later
# Shared by the bench scenarios (bench/leak, idle, fanout, reaction), sourced inside the VM that
# bench/run boots: one boot for every scenario and side, so every ratio is measured in one boot.
# BENCH_QUICK=1 is the smoke mode (small sizes, one repetition) that make check runs.
set -euo pipefail
BENCH=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SRC=$(cd "$BENCH/.." && pwd)
BUILD=${CGWATCH_BUILD:?}
CGWATCHD=$BUILD/cgwatchd
CGWATCHCTL=$BUILD/cgwatchctl
CG=/sys/fs/cgroup
QUICK=${BENCH_QUICK:-0}
REPS=${BENCH_REPS:-$([ "$QUICK" = 1 ] && echo 1 || echo 3)}
PM2_DIR=${CGWATCH_BENCH_CACHE:-/var/cache/cgwatch-bench}/pm2/node_modules/pm2
NODE=$(command -v node)
WORK=$(mktemp -d /tmp/bench.XXXXXX)
MiB=$((1024 * 1024))

say() { printf 'bench: %s\n' "$*" >&2; }
now_ms() { echo $(($(date +%s%N) / 1000000)); }

# The peers' workers get nodes of their own under here (bench/lib/in-cgroup).
PEERS=$CG/bench-peers
peers_setup() {
        mkdir -p "$PEERS"
        grep -qw memory "$CG/cgroup.subtree_control" || echo +memory >"$CG/cgroup.subtree_control"
        echo "+memory +pids" >"$PEERS/cgroup.subtree_control" 2>/dev/null || echo +memory >"$PEERS/cgroup.subtree_control"
}
peers_cleanup() {
        local d c
        for d in "$PEERS"/*/; do
                [ -d "$d" ] || continue
                echo 1 >"$d/cgroup.kill" 2>/dev/null || true
                for c in "$d"*/; do
                        [ -d "$c" ] && wait_until 30 rmdir "$c" 2>/dev/null
                done
                wait_until 30 rmdir "$d" 2>/dev/null || true
        done
}

# wait_until SECONDS COMMAND...: a wall-clock deadline; a status of 2 from COMMAND gives up at once.
wait_until() {
        local end=$((SECONDS + $1))
        shift
        until "$@"; do
                [ $? = 2 ] && return 2
                [ "$SECONDS" -ge "$end" ] && return 1
                sleep 0.2
        done
}

# cgwatch_started LOG N PID: N starts in the daemon's log; 2 if the daemon died.
cgwatch_started() {
        kill -0 "$3" 2>/dev/null || { say "cgwatchd $3 died: $(tail -n 3 "$1")"; return 2; }
        [ "$(grep -c 'started as pid' "$1")" -ge "$2" ]
}

# cpu_ticks PID: utime + stime of every thread (clock ticks); ctxsw PID: voluntary + involuntary
# context switches of every thread (the daemon's wakeups).
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
ctxsw() { cat /proc/"$1"/task/*/status 2>/dev/null | awk '/ctxt_switches/ { s += $2 } END { print s + 0 }'; }
rss_kib() { awk '/^VmRSS/ { print $2 }' "/proc/$1/status"; }
CLK_TCK=$(getconf CLK_TCK)

# median/min/max of numbers on stdin: "med (min-max)"; "NA" without numbers.
mmm() {
        sort -g | awk -v f="${1:-%.3f}" '{ a[NR] = $1 } END {
                if (NR == 0) { print "NA"; exit }
                m = NR % 2 ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2
                if (NR == 1) printf f "\n", m; else printf f " (" f "-" f ")\n", m, a[1], a[NR] }'
}

pm2() { PM2_HOME=$PM2_HOME node "$PM2_DIR/bin/pm2" "$@"; }
# A fresh PM2_HOME per run; no calls home (lib/Client.js, lib/Worker.js).
pm2_home() {
        PM2_HOME=$(mktemp -d "$WORK/pm2.XXXXXX")
        touch "$PM2_HOME/touch"
        export PM2_HOME PM2_DISABLE_VERSION_CHECK=1
}
pm2_kill() { pm2 kill >/dev/null 2>&1 || true; }
pm2_god_pid() { cat "$PM2_HOME/pm2.pid"; }

versions() {
        local pm2v sv
        pm2v=$(node -p "require('$PM2_DIR/package.json').version" 2>/dev/null || echo none)
        sv=$(supervisord --version 2>/dev/null || echo none)
        echo "VM: Linux $(uname -r), $(nproc) vCPUs (QEMU TCG), $(($(awk '/MemTotal/ {print $2}' /proc/meminfo) / 1024)) MiB;" \
                "host: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'); cgwatchd $("$CGWATCHD" --version | cut -d' ' -f2);" \
                "PM2 $pm2v; supervisord $sv; Node.js $(node --version)"
}
