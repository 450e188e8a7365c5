#!/bin/bash
# A worker that ignores its stop signal is killed at StopTimeoutSec with its grandchildren
# (cgroup.kill); the daemon's SIGTERM stops every worker and leaves no process and no cgroup.
. "$(dirname "$0")/lib.sh"

write_conf <<EOF
[Supervisor grp]
MemoryBudget=200M

[Worker stubborn]
ExecStart=/bin/sh -c 'trap "" TERM; (trap "" TERM; sleep 1000; true) & (sleep 1000; true) & while :; do sleep 1; done'
StopTimeoutSec=2
Supervisor=grp

[Worker polite]
ExecStart=/bin/sleep 1000
EOF
start_daemon
wait_for 20 worker_running stubborn && wait_for 20 worker_running polite
wait_for 10 sh -c "[ \$(wc -l < '$DYNO/grp/stubborn/cgroup.procs') -ge 3 ]"
pids=$(cat "$DYNO/grp/stubborn/cgroup.procs" "$DYNO/polite/cgroup.procs")
check "stubborn worker has grandchildren" test "$(wc -l <"$DYNO/grp/stubborn/cgroup.procs")" -ge 3

t0=$(now_ms)
stop_daemon
rc=$?
t1=$(now_ms)
say "daemon stop took $((t1 - t0)) ms (StopTimeoutSec=2)"
check "daemon exits 0 on SIGTERM" test "$rc" = 0
check "stop waited for StopTimeoutSec before killing" test $((t1 - t0)) -ge 1900
check "stop did not hang (< 30 s)" test $((t1 - t0)) -lt 30000
alive=0
for p in $pids; do kill -0 "$p" 2>/dev/null && alive=$((alive + 1)); done
check "no worker process or grandchild survives" test "$alive" = 0
check "the log says the stubborn one was killed" log_has "did not exit within 2000 ms"
check "no cgroup is left behind" test ! -e "$CG/$BASE"
finish
