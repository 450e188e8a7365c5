#!/bin/bash
# SIGHUP: a changed budget changes memory.high in place without restarting the worker; a changed
# command restarts it; a removed worker is stopped and its node removed; a new one starts; a bad
# config is refused and the running one kept.
. "$(dirname "$0")/lib.sh"

conf() {
        printf '[Worker keep]\nExecStart=/bin/sleep 1000\nMemoryBudget=%s\n\n' "$1" >"$CONF"
        printf '[Worker change]\nExecStart=/bin/sleep %s\n\n' "$2" >>"$CONF"
        printf '[Worker %s]\nExecStart=/bin/sleep 1000\n' "$3" >>"$CONF"
}
conf 64M 1000 gone
start_daemon
for w in keep change gone; do wait_for 20 worker_running $w; done
keep=$(worker_pid keep) change=$(worker_pid change)
check "initial memory.high is the tripwire below 64M" test "$(value "$DYNO/keep/memory.high")" = "$(tripwire $((64 * MiB)))"

conf 96M 2000 new
kill -HUP "$DAEMON_PID"
wait_for 20 worker_running new
wait_for 20 sh -c "[ \"\$(cat $DYNO/keep/memory.high)\" = $(tripwire $((96 * MiB))) ]"
check "budget change applied to memory.high" test "$(value "$DYNO/keep/memory.high")" = "$(tripwire $((96 * MiB)))"
check "budget change did not restart the worker" test "$(worker_pid keep)" = "$keep"
wait_for 20 sh -c "p=\$(head -n1 $DYNO/change/cgroup.procs); [ -n \"\$p\" ] && [ \"\$p\" != $change ]"
check "changed ExecStart restarted the worker" test "$(worker_pid change)" != "$change"
check "the new command runs" grep -q 2000 "/proc/$(worker_pid change)/cmdline"
check "a new worker starts" worker_running new
wait_for 20 test ! -e "$DYNO/gone"
check "a removed worker is stopped and its node removed" test ! -e "$DYNO/gone"

printf '[Worker keep]\nExecStart=/bin/sleep 1000\nMemoryBudget=lots\n' >"$CONF"
kill -HUP "$DAEMON_PID"
wait_for 10 log_has "Reload failed"
check "a bad config is refused on reload" log_has "Reload failed, keeping the running configuration: $CONF:3: MemoryBudget"
check "the workers keep running after a refused reload" test "$(worker_pid keep)" = "$keep"
check "the daemon is still alive" kill -0 "$DAEMON_PID"
finish
