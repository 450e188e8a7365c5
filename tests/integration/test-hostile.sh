#!/bin/bash
# Hostile workers (issue 9). With a private dbus-daemon as the system bus, so that the daemon's
# answers can be timed from outside (tests/helpers/bus-probe.c: ListWorkers every 20 ms):
# - a fork bomb (10,000 children asked for): pids.max (TasksMax) holds, and every ListWorkers
#   is answered while it runs (the round trips are printed, see below);
# - a double fork into a new session that ignores SIGTERM: the main process exits, cgroup.kill
#   takes the grandchild with it;
# - a worker that closes stdout and stderr: still running, never restarted, the daemon idle;
# - an allocation past MemoryMax= (memory.max of its own node): the kernel's OOM killer acts in
#   that node only, the daemon records reason oom from memory.events oom_kill and restarts it;
#   a worker SIGKILLed from outside is not called an OOM.
# Ignoring SIGTERM is test-stop's; exiting at once in a loop (backoff, then failed) test-restart's.
. "$(dirname "$0")/lib.sh"
HOSTILE=$BUILD/tests/helpers/cgwatch-hostile
PROBE=$BUILD/tests/helpers/cgwatch-bus-probe

# A private bus, standing in for the system bus of the systemd VM.
cat >"$WORK/bus.conf" <<BUSCONF
<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-BUS Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig><type>system</type><listen>unix:path=$WORK/bus</listen><auth>EXTERNAL</auth>
<policy context="default"><allow own="*"/><allow send_destination="*"/><allow receive_sender="*"/></policy>
</busconfig>
BUSCONF
dbus-daemon --config-file="$WORK/bus.conf" --fork --print-pid >"$WORK/bus.pid" || {
        not_ok "private dbus-daemon started"
        finish
}
export DBUS_SYSTEM_BUS_ADDRESS=unix:path=$WORK/bus
DAEMON_BUS=
trap 'kill "$(cat "$WORK/bus.pid")" 2>/dev/null' EXIT
prop() { busctl --system get-property org.cgwatch1 "/org/cgwatch1/worker/$1" org.cgwatch1.Worker "$2" | cut -d' ' -f2- | tr -d '"'; }
prop_is() { [ "$(prop "$1" "$2")" = "$3" ]; }
field() { awk -v k="$2" '$1 == k {print $2}' "$1"; }

write_conf <<CONF
[Worker bomb]
ExecStart=/bin/sh -c 'while [ ! -e $WORK/bomb.go ]; do sleep 0.1; done; exec $HOSTILE fork-bomb 10000'
TasksMax=200

[Worker doublefork]
ExecStart=$HOSTILE double-fork $WORK/grandchild.pid
Restart=no

[Worker mute]
ExecStart=$HOSTILE close-stdout

[Worker hog]
ExecStart=/bin/sh -c 'if [ -e $WORK/hog.once ]; then exec sleep 100000; fi; touch $WORK/hog.once; exec $HOSTILE alloc 200'
MemoryMax=64M

[Worker victim]
ExecStart=/bin/sleep 100000

[Worker innocent]
ExecStart=/bin/sleep 100000
CONF
start_daemon
wait_for 60 sh -c "busctl --system list 2>/dev/null | grep -q org.cgwatch1"
check "cgwatchd is on the private bus" sh -c "busctl --system list | grep -q org.cgwatch1"

# 1. The fork bomb, timed from outside: 5 s before it (the emulated machine's own noise), 20 s
# while it runs.
"$PROBE" 5 20 >"$WORK/probe0.txt"
say "$(cat "$WORK/probe0.txt") (ListWorkers over the private bus, before the fork bomb)"
touch "$WORK/bomb.go"
"$PROBE" 20 20 >"$WORK/probe.txt" &
probe=$!
wait_for 60 log_has "fork-bomb forked=199 "
bomb=$(worker_node bomb)
peak=0
for _ in $(seq 1 40); do
        c=$(cat "$bomb/pids.current" 2>/dev/null || echo 0)
        [ "$c" -gt "$peak" ] && peak=$c
        sleep 0.25
done
wait $probe
probe_rc=$?
say "bomb: $(grep -o 'fork-bomb forked=[0-9]* refused=[0-9]*' "$LOG" | tail -n1), pids.current peak $peak, pids.events max $(field "$bomb/pids.events" max)"
say "$(cat "$WORK/probe.txt") (ListWorkers over the private bus during the fork bomb)"
check "TasksMax=200 holds: pids.current never above 200" test "$peak" -le 200
check "  the kernel refused forks (pids.events max > 0)" test "$(field "$bomb/pids.events" max)" -gt 0
check "  the bomb got exactly 199 children (200 tasks with itself)" log_has "fork-bomb forked=199 "
check "every ListWorkers answered during the bomb" test "$probe_rc" = 0
# The issue's claim, answers within 100 ms throughout, is measured and printed but not asserted:
# on the emulated VM of a shared host the same probe's p99 before the bomb was 1031-1199 ms in
# two runs (and its median 16-110 ms), so neither bound can fail for the right reason here.
say "ListWorkers round trip: before the bomb $(cut -d' ' -f2- "$WORK/probe0.txt"); during it $(cut -d' ' -f2- "$WORK/probe.txt")"
check "the bomb was never restarted" prop_is bomb Restarts 0

# 2. The double fork: the grandchild left its process group and session, and ignores SIGTERM.
wait_for 30 test -s "$WORK/grandchild.pid"
gc=$(cat "$WORK/grandchild.pid")
main=$(worker_pid doublefork)
# /proc/PID/stat fields 5 and 6: process group and session (comm has no blanks here)
read -r gc_pgrp gc_sid < <(awk '{print $5, $6}' "/proc/$gc/stat")
read -r main_pgrp main_sid < <(awk '{print $5, $6}' "/proc/$main/stat")
say "grandchild $gc: process group $gc_pgrp, session $gc_sid; main $main: process group $main_pgrp, session $main_sid"
check "the grandchild left the main process's group and session" test "$gc_pgrp" != "$main_pgrp" -a "$gc_sid" != "$main_sid"
check "  and is in the worker's node" grep -qx "$gc" "$(worker_node doublefork)/cgroup.procs"
touch "$WORK/grandchild.pid.release"
wait_for 30 prop_is doublefork State stopped
check "after the main process exited, the worker is down (Restart=no)" prop_is doublefork State stopped
check "  and cgroup.kill took the grandchild in its own session" wait_for 10 sh -c "! kill -0 $gc 2>/dev/null"
check "  its node is empty" test -z "$(cat "$(worker_node doublefork)/cgroup.procs" 2>/dev/null)"

# 3. Closed stdout and stderr.
mute_pid=$(worker_pid mute)
t0=$(awk '{print $14 + $15}' "/proc/$DAEMON_PID/stat")
sleep 3
t1=$(awk '{print $14 + $15}' "/proc/$DAEMON_PID/stat")
say "mute: the daemon used $((t1 - t0)) clock ticks of CPU in 3 s"
check "a worker without stdout still runs, same PID" test "$(worker_pid mute)" = "$mute_pid"
check "  never restarted" prop_is mute Restarts 0
check "  and the daemon does not spin on its closed pipe (< 100 ticks in 3 s)" test $((t1 - t0)) -lt 100

# 4. Past memory.max in its own node.
hog=$(worker_node hog)
check "MemoryMax=64M is the hog node's memory.max" test "$(value "$hog/memory.max")" = $((64 * MiB))
wait_for 60 prop_is hog LastRecycleReason oom
say "hog: memory.events $(tr '\n' ' ' <"$hog/memory.events")"
check "the kernel OOM-killed inside the hog's node" test "$(field "$hog/memory.events" oom_kill)" -ge 1
check "  the daemon recorded reason oom" prop_is hog LastRecycleReason oom
check "  and said so in its log" log_has "hog.*oom"
check "  and restarted it" wait_for 30 prop_is hog State running
check "  Recycles=1" prop_is hog Recycles 1
check "no OOM kill in the innocent's node" test "$(field "$(worker_node innocent)/memory.events" oom_kill)" = 0
check "  the dyno counts only the hog's" test "$(oom_kills)" = "$(field "$hog/memory.events" oom_kill)"

# A SIGKILL from outside is not an OOM.
kill -KILL "$(worker_pid victim)"
wait_for 30 prop_is victim Restarts 1
check "a worker SIGKILLed from outside is restarted" prop_is victim Restarts 1
check "  and not called an OOM (no recycle reason)" prop_is victim LastRecycleReason ""
check "  Recycles=0" prop_is victim Recycles 0
check "the innocent worker was started exactly once" test "$(log_count 'Worker innocent started')" = 1
check "the daemon still answers" busctl --system call org.cgwatch1 /org/cgwatch1 org.cgwatch1.Manager ListWorkers
stop_daemon
check "the daemon stops cleanly after all that" test $? = 0
check "no cgroup is left behind" test ! -e "$CG/$BASE"
finish
