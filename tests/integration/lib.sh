# SPDX-License-Identifier: LGPL-2.1-or-later
# Shared by the real-kernel scenarios. They run as root inside a throwaway VM (tests/vm/run),
# start cgwatchd on a cgroup subtree of their own, and assert through the kernel's files and the
# daemon's log. Timing is measured and printed, and asserted only as order and generous bounds:
# the VM is emulated (TCG) and several times slower than hardware.
set -u

BUILD=${CGWATCH_BUILD:?CGWATCH_BUILD must point at the meson build dir}
SRC=${CGWATCH_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
CGWATCHD=$BUILD/cgwatchd
LEAKER=$BUILD/tests/helpers/cgwatch-leaker
CG=/sys/fs/cgroup
BASE=cgw-test
DYNO=$CG/$BASE/dyno
WORK=$(mktemp -d /tmp/cgw.XXXXXX)
CONF=$WORK/cgwatch.conf
LOG=$WORK/cgwatchd.log
DAEMON_PID=
MiB=$((1024 * 1024))

. "$(dirname "${BASH_SOURCE[0]}")/assert.sh"

now_ms() { echo $(($(date +%s%N) / 1000000)); }

# write_conf <<EOF ... EOF
write_conf() { cat >"$CONF"; }

start_daemon() {
        # DAEMON_BUS: "--no-bus" (no system bus in plain mode); a scenario with a private
        # dbus-daemon sets it empty. DAEMON_WRAPPER: a command to run the daemon under (valgrind).
        ${DAEMON_WRAPPER:-} "$CGWATCHD" -c "$CONF" --cgroup-root "$CG/$BASE" ${DAEMON_BUS---no-bus} "$@" >"$LOG" 2>&1 &
        DAEMON_PID=$!
        if ! wait_for "${DAEMON_START_TIMEOUT:-30}" test -d "$DYNO"; then
                not_ok "cgwatchd started (no $DYNO after ${DAEMON_START_TIMEOUT:-30} s)"
                finish
        fi
}

stop_daemon() {
        [ -n "$DAEMON_PID" ] || return 0
        kill -TERM "$DAEMON_PID" 2>/dev/null
        wait "$DAEMON_PID"
        local rc=$?
        DAEMON_PID=
        return $rc
}

log_has() { grep -q -- "$1" "$LOG"; }
log_count() { grep -c -- "$1" "$LOG" || true; }

# worker_pid NAME: the pid in the worker's node (first one)
# (supervisors nest, and the cgroup tree mirrors the supervision tree: search it)
worker_node() {
        local n
        n=$(find "$DYNO" -mindepth 1 -type d -name "$1" -print -quit 2>/dev/null)
        [ -n "$n" ] && echo "$n"
}
worker_pid() {
        local n
        n=$(worker_node "$1") || return 1
        head -n1 "$n/cgroup.procs" 2>/dev/null | grep .
}
worker_running() { worker_pid "$1" >/dev/null; }

value() { tr -d '\n' <"$1"; }

# The kernel keeps memory limits in pages: what reads back is the value rounded down to 4 KiB.
pages() { echo $(($1 / 4096 * 4096)); }
# A fresh worker's memory.high: its tripwire, the budget less the default reserve of budget/32
# (nothing learned yet; policy_reserve_bytes()), in pages.
tripwire() { pages $(($1 - $1 / 32)); }

oom_kills() { awk '$1 == "oom_kill" {print $2}' "$DYNO/memory.events"; }

# Prints p50/p99/max of the detection-to-signal latencies in the log (microseconds).
latency_summary() {
        grep -o 'latency_usec=[0-9]*' "$LOG" | cut -d= -f2 | sort -n | awk '
                function at(q,  i) { i = int(NR * q) + 1; if (i > NR) i = NR; return a[i] }
                { a[NR] = $1 }
                END { if (NR) printf "detection-to-signal latency: n=%d p50=%d us p99=%d us max=%d us\n", NR, at(0.5), at(0.99), a[NR] }'
}

finish() {
        if [ -n "$DAEMON_PID" ]; then
                kill -TERM "$DAEMON_PID" 2>/dev/null
                wait "$DAEMON_PID" 2>/dev/null
        fi
        if [ "$FAILED" -gt 0 ] || [ "${CGW_SHOW_LOG:-0}" = 1 ]; then
                say "---- cgwatchd log ($LOG) ----"
                tail -n 200 "$LOG"
                say "----"
        fi
        say "$PASSED passed, $FAILED failed"
        [ "$FAILED" -eq 0 ] && [ "$PASSED" -gt 0 ]
        exit $?
}

[ -x "$CGWATCHD" ] || { say "SKIP: $CGWATCHD not built"; exit 77; }
grep -qw memory "$CG/cgroup.controllers" 2>/dev/null || { say "SKIP: no cgroup v2 memory controller here (run me through tests/vm/run)"; exit 77; }
