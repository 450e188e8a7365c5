#!/bin/bash
# The daemon's own crash under systemd (issue 9, Faults): cgwatch.service's main process is
# SIGKILLed, then SIGABRTed, then OOM-killed by the kernel; systemd restarts it (Restart=on-failure) and it re-adopts the workers,
# which live in the transient scope cgwatch-workers.scope and so were never touched: same PIDs,
# started exactly once, their work not interrupted, a runtime budget (SetBudget runtime=true)
# kept, a manual recycle in flight completed exactly once. `systemctl stop cgwatch` afterwards
# still stops every worker gracefully (its stop signal first) and the scope goes with them.
set -u
BUILD=${CGWATCH_BUILD:?}
SRC=${CGWATCH_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
. "$(dirname "$0")/assert.sh"
[ "$(cat /proc/1/comm)" = systemd ] || { say "SKIP: PID 1 is not systemd (run me with tests/vm/run --systemd)"; exit 77; }

install -m 755 "$BUILD/cgwatchd" /usr/sbin/cgwatchd
install -m 755 "$BUILD/cgwatchctl" /usr/bin/cgwatchctl
# The shipped unit, which passes --workers-scope.
install -m 644 "$SRC/units/cgwatch.service" /etc/systemd/system/cgwatch.service
install -m 644 "$SRC/units/org.cgwatch1.conf" /etc/dbus-1/system.d/org.cgwatch1.conf
W=/var/tmp/cgw-crash
rm -rf "$W"
mkdir -p "$W" /etc/cgwatch
cat >/etc/cgwatch/cgwatch.conf <<EOF
[Dyno]
MemoryLimit=512M

[Worker counter]
ExecStart=/bin/sh -c 'echo start \$\$ >>$W/counter.log; trap "echo term \$\$ >>$W/counter.log; exit 0" TERM; i=0; while :; do i=\$((i+1)); echo \$i >$W/count; sleep 0.1; done'
MemoryBudget=64M

[Worker drainer]
ExecStart=/bin/sh -c 'echo start \$\$ >>$W/drainer.log; trap "echo term \$\$ >>$W/drainer.log; sleep 40; echo exit \$\$ >>$W/drainer.log; exit 0" TERM; while :; do sleep 0.2; done'
StopTimeoutSec=120
EOF
busctl call org.freedesktop.DBus /org/freedesktop/DBus org.freedesktop.DBus ReloadConfig >/dev/null
systemctl daemon-reload

SCOPE=/sys/fs/cgroup/system.slice/cgwatch-workers.scope
starts() { grep -c "^start" "$W/$1.log" 2>/dev/null || echo 0; }
main_pid() { awk '/^start/ {p = $2} END {print p}' "$W/$1.log"; }
daemon_pid() { systemctl show -p MainPID --value cgwatch.service; }
journal() { journalctl --sync; journalctl -u cgwatch --no-pager -o cat; }
# crash SIGNAL: kill the main process only, wait for systemd to have restarted it and for the
# new daemon to be ready (Type=notify: active again).
crash() {
        local old
        old=$(daemon_pid)
        kill -"$1" "$old"
        wait_for 60 sh -c "p=\$(systemctl show -p MainPID --value cgwatch.service); [ \"\$p\" != 0 ] && [ \"\$p\" != $old ] && systemctl is-active -q cgwatch.service" ||
                not_ok "systemd restarted cgwatchd after $1"
        say "cgwatchd $old killed by SIG$1; systemd restarted it as $(daemon_pid)"
}

check "cgwatch.service starts" systemctl start cgwatch.service
wait_for 30 sh -c "[ -s $W/counter.log ] && [ -s $W/drainer.log ]"
check "the workers live in the transient scope cgwatch-workers.scope" test -d "$SCOPE/dyno/counter"
check "the scope is delegated" sh -c "systemctl show -p Delegate --value cgwatch-workers.scope | grep -qx yes"
check "the daemon itself stays in the service's cgroup" grep -qx "0::/system.slice/cgwatch.service" "/proc/$(daemon_pid)/cgroup"
check "SetBudget runtime=true" busctl --system call org.cgwatch1 /org/cgwatch1 org.cgwatch1.Manager SetBudget stb counter 100663296 true
high=$(cat "$SCOPE/dyno/counter/memory.high")
counter1=$(main_pid counter)
drainer1=$(main_pid drainer)

c0=$(cat "$W/count")
crash KILL
check "counter kept its pid and kept counting across the crash" sh -c "grep -qx $counter1 $SCOPE/dyno/counter/cgroup.procs && [ \$(cat $W/count) -gt $c0 ]"
check "the new daemon re-adopted it" sh -c "journalctl --sync; journalctl -u cgwatch --no-pager -o cat | grep -q 'Worker counter: re-adopted pid $counter1'"
check "the runtime budget survived: Budget property" sh -c "busctl --system get-property org.cgwatch1 /org/cgwatch1/worker/counter org.cgwatch1.Worker MemoryBudget | grep -qx 't 100663296'"
check "  and memory.high unchanged" test "$(cat "$SCOPE/dyno/counter/memory.high")" = "$high"

# A manual recycle in flight at the crash completes exactly once.
check "cgwatchctl recycle drainer" cgwatchctl recycle drainer
wait_for 20 grep -q "^term $drainer1" "$W/drainer.log"
crash ABRT
check "the drainer re-adopted mid-recycle" sh -c "journalctl --sync; journalctl -u cgwatch --no-pager -o cat | grep -q 'Worker drainer: re-adopted pid $drainer1 (incarnation 1, stopping, recycle in flight: manual)'"
wait_for 90 grep -q "^exit $drainer1" "$W/drainer.log" || not_ok "the draining incarnation finished"
wait_for 20 sh -c "[ \$(grep -c ^start $W/drainer.log) -ge 2 ]"
say "drainer.log: $(tr '\n' ' ' <"$W/drainer.log")"
check "the draining incarnation got exactly one stop signal" test "$(grep -c "^term $drainer1" "$W/drainer.log")" = 1
check "its drain was not cut short (the handler ran to its end)" grep -q "^exit $drainer1" "$W/drainer.log"
check "exactly one start followed the recycle" test "$(starts drainer)" = 2
check "Recycles=1, counted once" sh -c "cgwatchctl show drainer | grep -qx 'Recycles=1'"
check "counter still the same process, started once" sh -c "grep -qx $counter1 $SCOPE/dyno/counter/cgroup.procs && [ $(starts counter) = 1 ]"
drainer2=$(main_pid drainer) # the incarnation the recycle started
# its TERM handler installed (SigCgt has SIGTERM's bit), so that a stop signal can show in drainer.log
traps_term() {
        local m
        m=$(awk '/^SigCgt:/ {print $2}' "/proc/$1/status" 2>/dev/null)
        [ -n "$m" ] && [ $((0x$m & 0x4000)) != 0 ]
}
wait_for 20 traps_term "$drainer2" || say "  the new drainer $drainer2 has no TERM handler (yet)"

# The kernel's OOM killer takes the daemon: MemoryMax= on the service, whose cgroup holds only
# the daemon (the workers are in the scope), and a hog put there that the OOM killer spares
# (oom_score_adj -1000) while the daemon is its first choice (+1000). systemd's OOMPolicy=stop
# (the default) stops the unit, which kills what is left of it (the hog), and Restart=on-failure
# starts the daemon again.
old=$(daemon_pid)
check "MemoryMax=48M on the service (runtime)" systemctl set-property --runtime cgwatch.service MemoryMax=48M
echo 1000 >"/proc/$old/oom_score_adj"
sh -c 'echo $$ >/sys/fs/cgroup/system.slice/cgwatch.service/cgroup.procs && echo -1000 >/proc/self/oom_score_adj &&
        exec "$0" --rate 20' "$BUILD/tests/helpers/cgwatch-leaker" >/dev/null 2>&1 &
hog=$!
oom_restarted() {
        local p
        p=$(daemon_pid)
        [ "$p" != 0 ] && [ "$p" != "$old" ] && systemctl is-active -q cgwatch.service
}
check "systemd restarted cgwatchd after the OOM kill" wait_for 120 oom_restarted
wait "$hog" 2>/dev/null || true
systemctl set-property --runtime cgwatch.service MemoryMax=infinity
say "cgwatchd $old OOM-killed; systemd restarted it as $(daemon_pid)"
# (systemd 252 reports the result as 'signal': the main process's SIGKILL is seen first.)
check "  the kernel's OOM killer took it, and systemd restarted the unit a third time" \
        sh -c "journalctl --sync; journalctl -u cgwatch --no-pager -o cat | grep -q 'A process of this unit has been killed by the OOM killer' &&
                journalctl -u cgwatch --no-pager -o cat | grep -q 'Scheduled restart job, restart counter is at 3'"
check "  the hog in the service's cgroup went with the unit" sh -c "! kill -0 $hog 2>/dev/null"
check "counter kept its pid, started once, across the OOM kill" \
        sh -c "grep -qx $counter1 $SCOPE/dyno/counter/cgroup.procs && [ $(starts counter) = 1 ]"
check "  and the new drainer its own, with Recycles still 1" \
        sh -c "grep -qx $drainer2 $SCOPE/dyno/drainer/cgroup.procs && [ $(starts drainer) = 2 ] &&
                cgwatchctl show drainer | grep -qx 'Recycles=1'"
check "the daemon after the OOM kill re-adopted counter" \
        sh -c "journalctl -u cgwatch --no-pager -o cat | grep -c 'Worker counter: re-adopted pid $counter1' | grep -qx 3"

# A graceful stop afterwards: every worker gets its stop signal, the scope goes.
check "systemctl stop" systemctl stop cgwatch.service
check "counter was stopped gracefully (its TERM handler ran)" grep -q "^term $counter1" "$W/counter.log"
check "the new drainer was stopped gracefully too (its TERM handler ran to its end)" \
        sh -c "grep -q '^term $drainer2' $W/drainer.log && grep -q '^exit $drainer2' $W/drainer.log"
check "no worker survives" sh -c "! kill -0 $counter1 2>/dev/null && ! kill -0 $drainer2 2>/dev/null"
check "the scope is gone" wait_for 20 test ! -e "$SCOPE"
check "the state file is removed" test ! -e /run/cgwatch/default/state.json
say "---- journal (last 40)"; journal | tail -40
say "$PASSED passed, $FAILED failed"
[ "$FAILED" -eq 0 ] && [ "$PASSED" -gt 0 ]
