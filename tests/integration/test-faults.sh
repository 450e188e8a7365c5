#!/bin/bash
# Resource faults (issue 9): supervision goes on, and each error is logged once, not in a loop.
# - no system bus at start: the daemon runs without D-Bus and says so once (plain mode: no
#   journal either; the log goes to stderr);
# - a worker's node removed underneath the daemon (during its backoff): recreated at the restart;
# - a cgroup write that returns EBUSY: the worker's node made an inner node with controllers, so
#   clone3(CLONE_INTO_CGROUP) into it fails with EBUSY; retried with backoff, logged once, and the
#   worker starts again once the node is usable ("started again, after N failed attempts");
# - the config vanishing on reload: refused, the old config stays, nothing restarted;
# - EBUSY on cgroup.subtree_control (a new supervisor's node holds a stray process): the reload
#   is refused once, the running workers untouched; the next reload after the stray left works.
. "$(dirname "$0")/lib.sh"

write_conf <<CONF
[Worker steady]
ExecStart=/bin/sleep 100000

[Worker orphan]
ExecStart=/bin/sleep 100000
RestartSec=3s
MemoryBudget=64M

[Worker busy]
ExecStart=/bin/sleep 100000
RestartSec=200ms
RestartMaxSec=1s
CONF
# No --no-bus, and a bus address that leads nowhere.
export DBUS_SYSTEM_BUS_ADDRESS=unix:path=$WORK/no-such-bus
DAEMON_BUS=
start_daemon
wait_for 30 worker_running steady && wait_for 30 worker_running orphan && wait_for 30 worker_running busy
check "without a bus the daemon runs its workers" worker_running steady
check "  and says so once" test "$(log_count 'running without D-Bus')" = 1
steady=$(worker_pid steady)

# The node removed underneath (during the backoff, the only time it can be: a populated cgroup
# cannot be removed).
node=$(worker_node orphan)
kill -STOP "$DAEMON_PID" # hold the restart: the node is removed while the daemon looks away
kill -KILL "$(worker_pid orphan)"
# a killed task leaves its cgroup only once torn down: rmdir is EBUSY until then
check "the orphan's node could be removed underneath" wait_for 30 rmdir "$node" 2>/dev/null
kill -CONT "$DAEMON_PID"
check "  the daemon recreated it at the restart" wait_for 30 worker_running orphan
check "  with its memory.high (the tripwire below its 64M, not a fresh node's max)" \
        test "$(value "$node/memory.high")" = "$(tripwire $((64 * MiB)))"
check "  without an error in the log" test "$(grep -c 'orphan.*\(No such file\|No such device\)' "$LOG")" = 0

# EBUSY: while busy is down, its node gets a child with the memory controller enabled for it.
bnode=$(worker_node busy)
kill -STOP "$DAEMON_PID" # hold the restart until the node is an inner node
kill -KILL "$(worker_pid busy)"
wait_for 10 sh -c "[ -z \"\$(cat '$bnode/cgroup.procs')\" ]"
mkdir "$bnode/inner"
echo +memory >"$bnode/cgroup.subtree_control"
kill -CONT "$DAEMON_PID"
wait_for 30 log_has "Failed to spawn worker busy.*busy"
sleep 5 # backoff 200 ms doubling to 1 s: several attempts
check "clone3 into an inner node fails with EBUSY, logged" log_has "Failed to spawn worker busy.*Device or resource busy"
check "  once, not per attempt" test "$(log_count 'Failed to spawn worker busy')" = 1
echo -memory >"$bnode/cgroup.subtree_control"
rmdir "$bnode/inner"
check "once the node is usable again, busy starts" wait_for 30 worker_running busy
check "  and says after how many attempts" log_has "Worker busy started again, after [0-9]* failed attempts"
say "  $(grep -o 'Worker busy started again.*' "$LOG")"
check "steady was never touched" test "$(worker_pid steady)" = "$steady"

# The config vanishes on reload.
mv "$CONF" "$CONF.away"
kill -HUP "$DAEMON_PID"
wait_for 10 log_has "Reload failed, keeping the running configuration"
check "a reload without its config is refused, the old config kept" log_has "Reload failed, keeping the running configuration"
check "  logged once" test "$(log_count 'Reload failed')" = 1
check "  nothing restarted" test "$(worker_pid steady)" = "$steady"
mv "$CONF.away" "$CONF"
kill -HUP "$DAEMON_PID"
check "  and the next reload works" wait_for 10 log_has "Configuration reloaded"
check "the daemon still supervises: steady untouched" test "$(worker_pid steady)" = "$steady"
# EBUSY on a control-file write: a reload adds supervisor late, whose node already holds a stray
# process, so enabling the controllers in its cgroup.subtree_control is refused (EBUSY: no
# internal processes). The reload is refused as a whole, once; the running workers go on; once
# the stray is gone the next reload creates the group.
mkdir "$DYNO/late"
sleep 100000 &
stray=$!
echo "$stray" >"$DYNO/late/cgroup.procs"
cp "$CONF" "$CONF.before"
printf '\n[Supervisor late]\n\n[Worker lw]\nExecStart=/bin/sleep 100000\nSupervisor=late\n' >>"$CONF"
kill -HUP "$DAEMON_PID"
wait_for 10 sh -c "[ \$(grep -c 'Reload failed' $LOG) -ge 2 ]" || not_ok "the reload into a busy node finished"
check "EBUSY on cgroup.subtree_control: the reload is refused, saying why" \
        log_has "Reload failed, keeping the running configuration: supervisor late: its node '.*/dyno/late' cannot be made or take the controllers: Device or resource busy"
check "  logged once" test "$(log_count "supervisor late: its node")" = 1
check "  the running config stays: no 'reloaded' for it" test "$(log_count 'Configuration reloaded')" = 1
check "  the running workers untouched" test "$(worker_pid steady)" = "$steady"
check "  no lw was started" test "$(log_count 'Worker lw started')" = 0
kill "$stray"
wait "$stray" 2>/dev/null
kill -HUP "$DAEMON_PID"
check "  with the stray gone the next reload works" wait_for 10 sh -c "[ \$(grep -c 'Configuration reloaded' $LOG) -ge 2 ]"
check "  and starts lw in its group's node" wait_for 30 worker_running lw
check "  which has the memory controller" grep -qw memory "$DYNO/late/cgroup.subtree_control"
kill -HUP "$DAEMON_PID" # a reload that adds nothing: the retired config freed (no dangling worker config)
wait_for 10 sh -c "[ \$(grep -c 'Configuration reloaded' $LOG) -ge 3 ]"
check "  steady still untouched" test "$(worker_pid steady)" = "$steady"

stop_daemon
check "the daemon stops cleanly" test $? = 0
check "no cgroup is left behind" test ! -e "$CG/$BASE"
finish
