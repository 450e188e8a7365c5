#!/bin/bash
# The daemon's own crash, without systemd (issue 9, Faults): SIGKILL and SIGABRT cgwatchd while
# its workers run, start it again, and it re-adopts them from /run/cgwatch/<dyno>/state.json and
# the cgroup tree: same PIDs, started exactly once, their work not interrupted, no duplicate in
# any node, restart tallies kept, a recycle in flight completed exactly once, WATCHDOG=1 pings of
# the survivors reaching the new daemon over the stable notify socket, output still flowing. A
# corrupt state file: every node is stopped cleanly (stop signal first), then started afresh.
# Finally a graceful stop leaves nothing behind. Then the leak verdict across a crash.
. "$(dirname "$0")/lib.sh"

STATE=/run/cgwatch/default/state.json
write_conf <<EOF
[Dyno]
MemoryLimit=512M

[Supervisor flakies]
MaxRestarts=2
RestartWindowSec=600

[Worker counter]
ExecStart=/bin/sh -c 'echo start \$\$ >>$WORK/counter.log; trap "echo term \$\$ >>$WORK/counter.log; exit 0" TERM; i=0; while :; do i=\$((i+1)); echo \$i >$WORK/count; echo tick \$i; sleep 0.1; done'
StopTimeoutSec=10

[Worker drainer]
ExecStart=/bin/sh -c 'echo start \$\$ >>$WORK/drainer.log; trap "echo term \$\$ >>$WORK/drainer.log; sleep 20; echo exit \$\$ >>$WORK/drainer.log; exit 0" TERM; while :; do sleep 0.2; done'
MaxLifetimeSec=5
StopTimeoutSec=60

[Worker pinger]
ExecStart=/bin/sh -c 'echo start \$\$ >>$WORK/pinger.log; exec $LEAKER --watchdog-ms 300'
WatchdogSec=3

[Worker flaky]
ExecStart=/bin/sh -c 'echo start \$\$ >>$WORK/flaky.log; exec sleep 1000'
Supervisor=flakies
EOF

starts() { grep -c "^start" "$WORK/$1.log" 2>/dev/null || echo 0; }
# The main process of the current incarnation, as it wrote itself down (cgroup.procs may list a
# child first).
main_pid() { awk '/^start/ {p = $2} END {print p}' "$WORK/$1.log"; }
# No process in the node but the main one and its children: no duplicate was started into it.
only_family() {
        local node=$1 main=$2 p st
        for p in $(cat "$node/cgroup.procs"); do
                st=$(awk '{print $3, $4}' "/proc/$p/stat" 2>/dev/null)
                # gone, or a zombie child on its way out, or a child of the main process
                [ "$p" = "$main" ] || [ -z "$st" ] || [ "${st% *}" = Z ] || [ "${st#* }" = "$main" ] ||
                        { say "  stranger in $node: $p ($(tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null))"; return 1; }
        done
}
alive() { [ -e "/proc/$1" ] && ! grep -q '^State:.*Z' "/proc/$1/status" 2>/dev/null; }
crash() { # SIGNAL
        kill -"$1" "$DAEMON_PID"
        wait "$DAEMON_PID" 2>/dev/null
        DAEMON_PID=
}
restart_daemon() { # LOGNAME
        LOG=$WORK/$1
        start_daemon
        wait_for 30 log_has "Resuming from\|Not trusting" || not_ok "the new daemon read its state ($1)"
}

( sleep 400; say "TIMEOUT: log tail:"; grep -v tick "$LOG" | tail -30; ps -ef | grep -v "\[" ) &
WATCHDOG_PID=$!
start_daemon
wait_for 30 worker_running counter && wait_for 30 worker_running drainer && wait_for 30 worker_running pinger &&
        wait_for 30 worker_running flaky || not_ok "all four workers running"

# The drainer's lifetime recycle: SIGKILL the daemon while it drains (20 s in its TERM handler).
wait_for 30 grep -q "^term" "$WORK/drainer.log" || not_ok "the drainer got its lifetime recycle"
drainer1=$(awk '/^term/ {p = $2} END {print p}' "$WORK/drainer.log") # the incarnation that drains
drainer_inc=$(starts drainer)
counter1=$(main_pid counter)
pinger1=$(main_pid pinger)
pinger_starts=$(starts pinger)
flaky1=$(main_pid flaky)
check "the drainer is mid-drain at the crash" sh -c "kill -0 $drainer1 && ! grep -q '^exit $drainer1' $WORK/drainer.log"
crash KILL
say "SIGKILLed cgwatchd mid-drain; state file: $(wc -c <"$STATE") bytes"
c0=$(cat "$WORK/count")
check "the workers outlive the daemon" kill -0 "$counter1" "$pinger1" "$drainer1"
sleep 1
check "the counter keeps counting while no daemon runs (its output does not stop it)" test "$(cat "$WORK/count")" -gt "$c0"

restart_daemon cgwatchd-2.log
check "the state file was trusted" log_has "Resuming from /run/cgwatch/default/state.json (4 workers)"
check "counter re-adopted with its pid" log_has "Worker counter: re-adopted pid $counter1 (incarnation 1, running)"
log_has "Worker drainer: re-adopted pid $drainer1 (incarnation $drainer_inc, stopping, recycle in flight: lifetime)" ||
        say "  the new daemon on the drainer: $(grep drainer "$LOG" | head -3)"
check "the drainer re-adopted mid-recycle" log_has "Worker drainer: re-adopted pid $drainer1 (incarnation $drainer_inc, stopping, recycle in flight: lifetime)"
c1=$(cat "$WORK/count")
sleep 1
check "counter: same pid, still counting" sh -c "[ '$(main_pid counter)' = $counter1 ] && grep -qx $counter1 $DYNO/counter/cgroup.procs && [ \$(cat $WORK/count) -gt $c1 ]"
check "counter started exactly once" test "$(starts counter)" = 1
check "no duplicate in counter's node" only_family "$DYNO/counter" "$counter1"
check "no duplicate in pinger's node" only_family "$DYNO/pinger" "$pinger1"
check "no duplicate in flaky's node" only_family "$DYNO/flakies/flaky" "$(main_pid flaky)"
check "counter's output reaches the new daemon (the FIFO outlived the old one)" wait_for 10 grep -q "counter: tick" "$LOG"

# The recycle in flight completes once: one TERM, one exit, one start after it.
wait_for 40 grep -q "^exit $drainer1" "$WORK/drainer.log" || not_ok "the draining incarnation finished"
wait_for 20 sh -c "[ \$(grep -c ^start $WORK/drainer.log) -ge 2 ]"
say "drainer.log: $(tr '\n' ' ' <"$WORK/drainer.log")"
check "the draining incarnation got exactly one stop signal" test "$(grep -c "^term $drainer1" "$WORK/drainer.log")" = 1
check "its drain was not cut short (the handler ran to its end)" grep -q "^exit $drainer1" "$WORK/drainer.log"
check "exactly one start followed the recycle" test "$(sed -n "/^exit $drainer1/,/^term/p" "$WORK/drainer.log" | grep -c ^start)" = 1
check "the new daemon does not recycle it again" test "$(log_count "Recycling worker drainer (pid $drainer1")" = 0

# Watchdog pings of the survivor reach the new daemon: WatchdogSec=3, and 9 s without any would
# have recycled it.
sleep 9
check "pinger not recycled for its watchdog (its pings reach the new socket)" test "$(log_count "reason=watchdog")" = 0
grep -qx "$pinger1" "$DYNO/pinger/cgroup.procs" && [ "$(starts pinger)" = "$pinger_starts" ] ||
        say "  pinger.log: $(tr '\n' ' ' <"$WORK/pinger.log"); procs: $(tr '\n' ' ' <"$DYNO/pinger/cgroup.procs"); log: $(grep pinger "$LOG" | tail -5)"
check "pinger: same pid, not started again since the crash" sh -c "grep -qx $pinger1 $DYNO/pinger/cgroup.procs && [ $(starts pinger) = $pinger_starts ]"

# Two unplanned deaths of flaky before the crash: its supervisor's tally holds 2 of MaxRestarts=2.
for i in 1 2; do
        kill -KILL "$(main_pid flaky)"
        wait_for 20 sh -c "[ \$(grep -c ^start $WORK/flaky.log) -eq $((i + 1)) ] && [ -n \"\$(cat $DYNO/flakies/flaky/cgroup.procs)\" ]" ||
                not_ok "flaky restarted after kill $i"
done
check "flaky started 3 times before the crash" test "$(starts flaky)" = 3
flaky1=$(main_pid flaky)

# SIGABRT (an assertion failure) is the same.
counter_starts=$(starts counter)
crash ABRT
restart_daemon cgwatchd-3.log
check "after SIGABRT: counter re-adopted" log_has "Worker counter: re-adopted pid $counter1"
check "after SIGABRT: counter never restarted" test "$(starts counter)" = "$counter_starts"
check "after SIGABRT: flaky re-adopted" log_has "Worker flaky: re-adopted pid $flaky1"

# Restart tallies survived: the third death in the window fails the supervisor.
kill -KILL "$flaky1"
check "flaky's third death exceeds MaxRestarts=2 counted across the crash" wait_for 20 log_has "Supervisor flakies: more than 2 restarts"

# A corrupt state file vouches for nothing: each node is stopped cleanly, then started afresh.
crash KILL
echo '{"version": 1, "workers": [' >"$STATE"
restart_daemon cgwatchd-4.log
check "a corrupt state file is not trusted, and the log says so" log_has "Not trusting /run/cgwatch/default/state.json: the state file is corrupt"
check "the log names the node it stops and why" log_has "Worker counter: its node .* holds processes, but the state file is corrupt: stopping them (TERM"
wait_for 30 sh -c "[ \$(grep -c ^start $WORK/counter.log) -eq 2 ]"
# term_before_restart LOG PID N: PID's "term" line comes before the Nth "start" in LOG.
term_before_restart() {
        awk -v t="term $2" -v want="$3" '$0 == t && !term {term = NR} /^start/ && ++n == want {s = NR}
                END {exit !(term && s && term < s)}' "$1"
}
say "counter.log: $(tr '\n' ' ' <"$WORK/counter.log")"
check "the old counter got its stop signal first (a clean stop)" term_before_restart "$WORK/counter.log" "$counter1" 2
check "the old counter is gone" sh -c "! kill -0 $counter1 2>/dev/null"
check "then exactly one fresh counter started" test "$(starts counter)" = 2
counter2=$(main_pid counter)
check "the fresh counter is alone in its node" only_family "$DYNO/counter" "$counter2"

# No state file at all (deleted, or /run wiped while the workers ran) is the same: no duplicate,
# each populated node stopped cleanly first, then one fresh start.
crash KILL
rm -f "$STATE"
LOG=$WORK/cgwatchd-5.log
start_daemon
check "without a state file the log names the node it stops and why" \
        wait_for 30 log_has "Worker counter: its node .* holds processes, but there is no state file: stopping them (TERM"
wait_for 30 sh -c "[ \$(grep -c ^start $WORK/counter.log) -eq 3 ]"
say "counter.log: $(tr '\n' ' ' <"$WORK/counter.log")"
check "  the counter it found got its stop signal before the next start" term_before_restart "$WORK/counter.log" "$counter2" 3
check "  it is gone" sh -c "! kill -0 $counter2 2>/dev/null"
check "  then exactly one fresh counter started" test "$(starts counter)" = 3
check "  alone in its node" only_family "$DYNO/counter" "$(main_pid counter)"

# A graceful stop afterwards stops everything and forgets the state.
pids=$(cat $(find "$DYNO" -name cgroup.procs))
stop_daemon
rc=$?
check "graceful stop exits 0" test "$rc" = 0
left=0
for p in $pids; do alive "$p" && left=$((left + 1)); done
check "no worker process survives the graceful stop" test "$left" = 0
check "no cgroup is left behind" test ! -e "$CG/$BASE"
check "the state file is removed after a clean stop" test ! -e "$STATE"

# Who leaks survives a crash: the rates of past lives are in the state file, so the verdict
# ("grew in each of its last 3 lives") comes at the third life in all, not the third since the
# daemon's restart. Two lives under the first daemon, SIGKILL, the third ends under the second.
write_conf <<EOF
[Worker leak]
ExecStart=$LEAKER --rate 4
MemoryBudget=24M
StopTimeoutSec=5

[Worker steady]
ExecStart=$LEAKER --steady 4
MemoryBudget=24M
EOF
LOG=$WORK/cgwatchd-6.log
start_daemon
wait_for 60 sh -c "[ \$(grep -c 'Worker leak started as pid' $LOG) -ge 3 ]" || not_ok "the leaker was recycled twice"
check "  for its budget both times" test "$(grep 'Recycling worker leak' "$LOG" | grep -c 'reason=budget')" = 2
check "  no verdict after 2 lives" sh -c "! grep -q 'Worker leak leaks' $LOG"
wait_for 10 grep -q '"lives":\[[0-9-]*,[0-9-]*\]' "$STATE" || not_ok "the state file holds the 2 lives"
say "leak record: $(grep -o '"name":"leak"[^}]*' "$STATE" | grep -o '"lives":[^]]*]')"
crash KILL
restart_daemon cgwatchd-7.log
check "  the third incarnation is re-adopted" wait_for 30 log_has "Worker leak: re-adopted pid"
check "  its end gives the verdict, at 3 lives in all" wait_for 60 log_has "Worker leak leaks: it grew in each of its last 3 lives, at [0-9]* bytes/s (3 lives)"
say "  $(grep 'Worker leak leaks' "$LOG")"
check "  the steady worker gets no verdict" sh -c "! grep -q 'Worker steady leaks' $WORK/cgwatchd-6.log $LOG"
check "  and was started exactly once" test "$(grep -c 'Worker steady started as pid' "$WORK/cgwatchd-6.log" "$LOG" | awk -F: '{ s += $2 } END { print s }')" = 1
stop_daemon

kill $WATCHDOG_PID 2>/dev/null
finish
