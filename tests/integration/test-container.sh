#!/bin/bash
# cgwatchd as a container's entrypoint: in a cgroup namespace whose root has memory.max = 300M
# (set on the outer node, as a container runtime does), MemoryLimit= defaults to the container's
# own limit rather than the machine's RAM. Also: the daemon raises its RLIMIT_NOFILE soft limit to
# the hard limit, and its workers get the limit it was started with.
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
sh -c "echo \$\$ >$OUTER/cgroup.procs && exec unshare --cgroup --mount sh -c 'umount -l /sys/fs/cgroup && mount -t cgroup2 cgroup2 /sys/fs/cgroup && exec $CGWATCHD -c $CONF --no-bus'" >"$LOG" 2>&1 &
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
rmdir "$OUTER" 2>/dev/null
finish
