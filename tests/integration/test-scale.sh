#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Many workers (issue 11's first duty).
# 1. The daemon's own failures are not the workers': with RLIMIT_NOFILE at 48 (soft = hard, so
#    the daemon cannot raise it), most of 20 workers fail to start with EMFILE; they are retried
#    with backoff, counted against nobody, and all run once the limit is raised from outside
#    (prlimit), with no group giving up and no worker restart counted.
# 2. CGWATCH_SCALE_N idle workers (default 300; bench/fanout runs 1000) all reach running, each in
#    its own node, under the VM's default RLIMIT_NOFILE (soft 1024, hard 4096, as the kernel
#    gives init): the daemon raises its soft limit and keeps at most 4 fds per worker.
. "$(dirname "$0")/lib.sh"

N=${CGWATCH_SCALE_N:-300}
started() { log_count "Worker $1@[0-9]* started"; }
# wait_started NAME COUNT SECONDS: a wall-clock deadline (polling the log costs time under TCG).
wait_started() {
        local end=$((SECONDS + $3)) n last=-1
        while [ "$SECONDS" -lt "$end" ]; do
                n=$(started "$1")
                [ "$n" -ge "$2" ] && return 0
                [ "$n" != "$last" ] && say "  $SECONDS s: $n of $2 started"
                last=$n
                kill -0 "$DAEMON_PID" 2>/dev/null || return 1
                sleep 1
        done
        return 1
}
daemon_fds() { ls "/proc/$DAEMON_PID/fd" | wc -l; }

say "== 1. EMFILE is the daemon's failure, not the workers'"
# idle_dyno NAME N: N idle workers; a dyno that gives up after 3 counted restarts in 60 s.
idle_dyno() {
        printf '[Dyno]\nMaxRestarts=3\nRestartWindowSec=60\n\n[Worker %s]\nExecStart=/bin/sleep infinity\nInstances=%s\nMemoryBudget=8M\n' \
                "$1" "$2" | write_conf
}
idle_dyno few 20
(ulimit -n 48 && exec "$CGWATCHD" -c "$CONF" --cgroup-root "$CG/$BASE" --no-bus) >"$LOG" 2>&1 &
DAEMON_PID=$!
wait_for 60 log_has "the daemon failed to start it (Too many open files"
check "with 48 fds some starts fail with EMFILE" log_has "the daemon failed to start it (Too many open files"
check "  and are retried, counted against nobody" log_has "retrying in [0-9]* ms; this is not counted against the worker"
say "  before: $(started few) of 20 running, daemon fds $(daemon_fds)"
check "  not all 20 could start" test "$(started few)" -lt 20
# A few retries at 48 fds (a pause, not a timing assumption), then more fds from outside.
sleep 3
prlimit --pid "$DAEMON_PID" --nofile=4096:4096
wait_started few 20 120
check "all 20 run once fds are available again" test "$(started few)" -ge 20
check "no supervisor gave up" test "$(log_count 'giving up')" = 0
check "no restart was counted (no worker backoff)" test "$(log_count 'restarting in')" = 0
stop_daemon
check "the daemon stops cleanly" test $? = 0
mv "$LOG" "$LOG.1"

say "== 2. $N idle workers"
idle_dyno idle "$N"
say "RLIMIT_NOFILE soft $(ulimit -S -n) hard $(ulimit -H -n)"
t0=$(now_ms)
start_daemon
wait_started idle "$N" 600
t1=$(now_ms)
say "started $(started idle) of $N in $((t1 - t0)) ms"
fds=$(daemon_fds)
say "daemon: $fds fds ($(awk -v f="$fds" -v n="$N" 'BEGIN { printf "%.2f", f / n }') per worker), $(grep VmRSS /proc/$DAEMON_PID/status | tr -s ' \t' ' ')"
check "all $N workers started" test "$(started idle)" -ge "$N"
running=$(cat "$DYNO"/idle@*/cgroup.procs | wc -l)
check "  their nodes hold $N processes ($running)" test "$running" = "$N"
check "no start failed" test "$(log_count 'failed to start')" = 0
check "at most 4 fds per worker (and 32 of the daemon's own)" test "$fds" -le $((4 * N + 32))
t0=$(now_ms)
stop_daemon
check "the daemon stops all $N cleanly" test $? = 0
say "stopped all in $(($(now_ms) - t0)) ms"
check "  and leaves no worker node" test -z "$(ls -d "$DYNO"/idle@* 2>/dev/null)"
finish
