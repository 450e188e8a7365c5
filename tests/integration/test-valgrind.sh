#!/bin/bash
# The daemon under valgrind's memcheck (issue 9, quality gates) through a life with every common
# road: starts, READY, a budget recycle (leaker), a crash and its restarts, a manual reload that
# changes a budget and removes a worker, and a graceful stop. Zero errors and zero definite
# leaks, or it fails. valgrind 3.19 has no clone3 and no pidfd_open: the daemon then forks and
# tracks PIDs (spawn_process()'s fallback), so this is the daemon minus its pidfd calls.
. "$(dirname "$0")/lib.sh"
command -v valgrind >/dev/null || { say "SKIP: valgrind is not installed (tools/install-deps)"; exit 77; }
VG=$WORK/valgrind.log
DAEMON_WRAPPER="valgrind --quiet --error-exitcode=99 --leak-check=full --show-leak-kinds=definite --errors-for-leak-kinds=definite --track-fds=no --log-file=$VG"
DAEMON_START_TIMEOUT=180

write_conf <<CONF
[Worker leaky]
ExecStart=$LEAKER --rate 20
MemoryBudget=48M

[Worker crasher]
ExecStart=/bin/sh -c 'n=\$(cat $WORK/crashes 2>/dev/null || echo 0); echo \$((n + 1)) >$WORK/crashes; [ \$n -ge 3 ] && exec sleep 100000; sleep 1; exit 3'
RestartSec=500ms

[Worker steady]
ExecStart=/bin/sleep 100000
MemoryBudget=32M
CONF
start_daemon
check "the daemon runs under valgrind" wait_for 120 worker_running steady
check "the leaker is recycled for its budget" wait_for 180 log_has "Recycling worker leaky.*reason=budget"
check "the crasher crashed 3 times and was restarted each time" wait_for 180 sh -c "[ \$(grep -c 'Worker crasher started' '$LOG') -ge 4 ]"
cat >"$CONF" <<CONF
[Worker leaky]
ExecStart=$LEAKER --rate 20
MemoryBudget=64M

[Worker steady]
ExecStart=/bin/sleep 100000
MemoryBudget=32M
CONF
kill -HUP "$DAEMON_PID"
check "a reload (budget changed, crasher removed)" wait_for 120 log_has "Configuration reloaded"
check "  the new budget in place" wait_for 60 sh -c "[ \"\$(cat '$(worker_node leaky)/memory.high' 2>/dev/null)\" = $(tripwire $((64 * MiB))) ] || grep -q 'Recycling worker leaky.*budget=67108864' '$LOG'"
stop_daemon
rc=$?
say "---- valgrind ($VG) ----"
cat "$VG"
say "----"
check "the daemon exits 0 under valgrind (99: memcheck found errors)" test "$rc" = 0
check "valgrind reported no error and no definite leak" sh -c "! grep -qE 'Invalid |uninitialised|definitely lost|Mismatched' '$VG'"
check "no cgroup is left behind" test ! -e "$CG/$BASE"
finish
