#!/bin/bash
# cgwatchd as a container's entrypoint: in a cgroup namespace whose root has memory.max = 300M
# (set on the outer node, as a container runtime does), MemoryLimit= defaults to the container's
# own limit rather than the machine's RAM; with memory.max at max, it defaults to memory.high. An
# absolute MemoryBudget= above that detected limit is refused at start, on reload and by
# --check-config run in the container. Also: the
# daemon raises its RLIMIT_NOFILE soft limit to the hard limit, and its workers get the limit it
# was started with.
. "$(dirname "$0")/lib.sh"

OUTER=$CG/cgw-ctr
echo +memory >"$CG/cgroup.subtree_control"
mkdir -p "$OUTER"
echo $((300 * MiB)) >"$OUTER/memory.max"

write_conf <<CONF
[Worker sleeper]
ExecStart=/bin/sleep 1000
CONF
ulimit -S -n 1024
soft_before=$(ulimit -S -n)
# One process all the way: into the outer node, a new cgroup (and mount) namespace rooted there, a
# cgroup2 mount that shows that root, then the daemon, with no --cgroup-root: its own cgroup is
# the namespace's root ("/"), as for a container's entrypoint.
# (As container runtimes do, the namespace's own cgroup2 is mounted at /sys/fs/cgroup; unshare
# makes the mount namespace private, so the VM's mount is untouched.)
# Run it in the background (it execs: $! is the daemon's pid), or in a subshell; arguments go to
# the daemon.
in_container() {
        exec sh -c "echo \$\$ >$OUTER/cgroup.procs && exec unshare --cgroup --mount sh -c 'umount -l /sys/fs/cgroup && mount -t cgroup2 cgroup2 /sys/fs/cgroup && exec $CGWATCHD -c $CONF --no-bus $*'" >"$LOG" 2>&1
}
in_container &
DAEMON_PID=$!
wait_for 30 sh -c "grep -q 'Worker sleeper started' '$LOG'"
say "$(grep 'Dyno ' "$LOG")"
check "MemoryLimit defaults to the container's memory.max (300M), not RAM" log_has "MemoryLimit=$((300 * MiB)) (memory.max)"
check "the dyno's memory.max is that limit" test "$(value "$OUTER/dyno/memory.max")" = $((300 * MiB))
daemon=$(head -n1 "$OUTER/cgwatchd/cgroup.procs")
worker=$(head -n1 "$OUTER/dyno/sleeper/cgroup.procs")
d_soft=$(awk '/Max open files/ {print $4}' "/proc/$daemon/limits")
d_hard=$(awk '/Max open files/ {print $5}' "/proc/$daemon/limits")
w_soft=$(awk '/Max open files/ {print $4}' "/proc/$worker/limits")
say "RLIMIT_NOFILE: started with soft $soft_before; daemon soft $d_soft hard $d_hard; worker soft $w_soft"
check "the daemon's soft RLIMIT_NOFILE is raised to its hard limit" test -n "$d_soft" -a "$d_soft" = "$d_hard"
check "  which is above the one it was started with" test "$d_hard" != "$soft_before"
check "workers get the soft limit the daemon was started with" test -n "$w_soft" -a "$w_soft" = "$soft_before"
kill -TERM "$DAEMON_PID"
wait "$DAEMON_PID"
check "the daemon stops cleanly" test $? = 0
DAEMON_PID=
check "and leaves nothing in the container's node" test ! -d "$OUTER/dyno"

# No memory.max on the container, only memory.high: that is the default.
echo max >"$OUTER/memory.max"
echo $((200 * MiB)) >"$OUTER/memory.high"
in_container &
DAEMON_PID=$!
wait_for 30 sh -c "grep -q 'Worker sleeper started' '$LOG'"
say "$(grep 'Dyno ' "$LOG")"
check "with memory.max at max, MemoryLimit defaults to the container's memory.high (200M)" log_has "MemoryLimit=$((200 * MiB)) (memory.max)"
# --check-config in the running container, as `docker exec` runs it: in the daemon's cgroup and
# its cgroup and mount namespaces.
sh -c "echo \$\$ >$OUTER/cgwatchd/cgroup.procs && exec nsenter -t $DAEMON_PID -C -m -r $CGWATCHD -c $CONF --check-config" >"$WORK/check.out" 2>&1
say "--check-config: $(head -n1 "$WORK/check.out")"
check "  and --check-config in the container shows that limit" grep -q "^dyno: limit 200M ($((200 * MiB)) bytes) detected" "$WORK/check.out"
# A reload with an absolute budget above that limit is refused, the running config kept.
write_conf <<CONF
[Worker sleeper]
ExecStart=/bin/sleep 1000
MemoryBudget=300M
CONF
kill -HUP "$DAEMON_PID"
wait_for 10 log_has "Reload failed"
say "$(grep 'Reload failed' "$LOG")"
check "a reload with MemoryBudget=300M above the detected 200M is refused, naming file:line, key and limit" \
        log_has "Reload failed, keeping the running configuration: $CONF:3: MemoryBudget: 300M is above the dyno's limit of 200M: MemoryLimit= is not set and defaults to the memory.high of the container's cgroup"
check "  the old config is kept (no budget on the worker)" test "$(value "$OUTER/dyno/sleeper/memory.high")" = max
stop_daemon
check "  and stops cleanly" test $? = 0

# memory.max 256M and an absolute budget of 512M, no MemoryLimit=: refused at start.
echo $((256 * MiB)) >"$OUTER/memory.max"
echo max >"$OUTER/memory.high"
write_conf <<CONF
[Worker sleeper]
ExecStart=/bin/sleep 1000
MemoryBudget=512M
CONF
(in_container --check-config)
rc=$?
say "--check-config: exit status $rc: $(cat "$LOG")"
check "--check-config in the container refuses a MemoryBudget= above its memory.max (exit 78)" test $rc = 78
check "  naming file:line, the key, the budget and the detected 256M" \
        log_has "$CONF:3: MemoryBudget: 512M is above the dyno's limit of 256M: MemoryLimit= is not set and defaults to the memory.max of the container's cgroup"
in_container &
DAEMON_PID=$!
wait_for 30 sh -c "! kill -0 $DAEMON_PID 2>/dev/null" || kill -TERM "$DAEMON_PID"
wait "$DAEMON_PID"
rc=$?
DAEMON_PID=
say "exit status $rc: $(cat "$LOG")"
check "a MemoryBudget= above the container's memory.max is refused at start (exit 78)" test $rc = 78
check "  naming file:line, the key, the budget and the detected 256M" \
        log_has "$CONF:3: MemoryBudget: 512M is above the dyno's limit of 256M: MemoryLimit= is not set and defaults to the memory.max of the container's cgroup"
check "  before creating anything in the container's node" test ! -d "$OUTER/cgwatchd" -a ! -d "$OUTER/dyno"
rmdir "$OUTER" 2>/dev/null
finish
