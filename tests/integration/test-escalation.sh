#!/bin/bash
# Supervisors nest, the cgroup tree mirrors the supervision tree, and a failed group escalates,
# Erlang-style: its parent restarts it afresh until the parent's own intensity is exceeded, then
# the parent fails in turn, up to the dyno, whose failure stops every worker and ends the daemon
# with exit status 3.
. "$(dirname "$0")/lib.sh"

write_conf <<EOF
[Dyno]
MaxRestarts=1
RestartWindowSec=60

[Supervisor outer]
MemoryBudget=200M
MaxRestarts=1

[Supervisor inner]
Supervisor=outer
MaxRestarts=1

[Worker crasher]
Supervisor=inner
ExecStart=/bin/sh -c 'sleep 0.3; exit 3'
RestartSec=100ms

[Worker sibling]
Supervisor=outer
ExecStart=/bin/sleep 1000

[Worker steady]
ExecStart=/bin/sh -c 'trap "echo term >>$WORK/steady.term; exit 0" TERM; while :; do sleep 0.1; done'
EOF
start_daemon
wait_for 20 worker_running sibling
check "a nested group's node is inside its parent's" test -d "$DYNO/outer/inner"
check "the worker of the inner group is in the inner node" test -d "$DYNO/outer/inner/crasher"
check "the outer group's worker is in the outer node" test -d "$DYNO/outer/sibling"
check "the outer group has its budget as memory.high" test "$(value "$DYNO/outer/memory.high")" = "$(pages $((200 * MiB)))"
check "the inner group has none of its own" test "$(value "$DYNO/outer/inner/memory.high")" = max
sibling1=$(worker_pid sibling)

# inner fails twice (2 deaths each, MaxRestarts=1): outer restarts it the first time, and fails
# itself the second; the dyno restarts outer once, and the fourth failure of inner takes the
# dyno down.
if wait_for 120 log_has "All workers stopped."; then
        ok "the daemon stopped every worker after the dyno gave up"
else
        not_ok "the daemon stopped every worker after the dyno gave up (no 'All workers stopped.' in 120 s)"
fi
(sleep 30 && kill -KILL "$DAEMON_PID" 2>/dev/null) &
watchdog=$!
wait "$DAEMON_PID"
rc=$?
kill "$watchdog" 2>/dev/null
DAEMON_PID=
check "cgwatchd exits with status 3 when the dyno gave up (got $rc)" test "$rc" = 3

check "inner gave up 4 times, each escalated to outer" test \
        "$(log_count 'Supervisor inner: more than 1 restarts within 60 s, giving up; the failure escalates to supervisor outer.')" = 4
check "outer restarted inner twice" test "$(log_count 'Supervisor outer restarts supervisor inner.')" = 2
check "outer gave up twice, each escalated to the dyno" test \
        "$(log_count 'Supervisor outer: more than 1 restarts within 60 s, giving up; the failure escalates to the dyno.')" = 2
check "the dyno restarted outer once" test "$(log_count 'The dyno restarts supervisor outer.')" = 1
check "the dyno gave up once" test \
        "$(log_count 'Dyno: more than 1 restarts within 60 s, giving up: stopping every worker, then cgwatchd exits with status 3.')" = 1
check "crasher started exactly 8 times" test "$(log_count 'Worker crasher started')" = 8
check "sibling restarted once, with outer" test "$(log_count 'Worker sibling started')" = 2
check "sibling's first incarnation was stopped ($sibling1)" test ! -d "/proc/$sibling1"
check "steady, outside the failed groups, started once" test "$(log_count 'Worker steady started')" = 1
check "steady was stopped gracefully (SIGTERM)" test "$(cat "$WORK/steady.term" 2>/dev/null)" = term
check "the dyno's node is gone" test ! -d "$DYNO"
finish
