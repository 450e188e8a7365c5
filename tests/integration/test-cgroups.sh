#!/bin/bash
# Each worker lands in its own node, born there (clone3 CLONE_INTO_CGROUP), with memory.high at
# its budget; supervisors get their own node and budget; the dyno gets memory.max = MemoryLimit
# and the daemon sits in a leaf of its own.
. "$(dirname "$0")/lib.sh"

write_conf <<EOF
[Dyno]
MemoryLimit=512M
RecycleAt=80%

[Supervisor dam]
Strategy=one-for-one
MemoryBudget=300M

[Worker http]
ExecStart=/bin/sh -c 'exec sleep 1000'
MemoryBudget=128M
TasksMax=16

[Worker queuer]
ExecStart=/bin/sleep 1000
Supervisor=dam
Instances=2
MemoryBudget=10%

[Worker unpriv]
ExecStart=/bin/sleep 1000
User=nobody
Group=nogroup
WorkingDirectory=/

[Worker env]
ExecStart=/bin/sh -c 'echo "env: A=\$A B=\$B worker=\$CGWATCH_WORKER pwd=\$(pwd)"; exec sleep 1000'
Environment=A=1 "B=two words"
WorkingDirectory=/tmp
EOF
start_daemon
wait_for 20 worker_running http && wait_for 20 worker_running queuer@2 && wait_for 20 worker_running env

check "dyno memory.max is MemoryLimit" test "$(value "$DYNO/memory.max")" = $((512 * MiB))
check "dyno memory.high is RecycleAt (80%)" test "$(value "$DYNO/memory.high")" = "$(pages $((512 * MiB * 8 / 10)))"
check "supervisor dam has its own node" test -d "$DYNO/dam"
check "supervisor memory.high is its budget" test "$(value "$DYNO/dam/memory.high")" = $((300 * MiB))
check "http memory.high = its tripwire below 128M" test "$(value "$DYNO/http/memory.high")" = "$(tripwire $((128 * MiB)))"
check "http pids.max = TasksMax" test "$(value "$DYNO/http/pids.max")" = 16
check "queuer@1 and queuer@2 each have a node" test -d "$DYNO/dam/queuer@1" -a -d "$DYNO/dam/queuer@2"
check "percent budget resolved against the dyno limit" test "$(value "$DYNO/dam/queuer@1/memory.high")" = "$(tripwire $((512 * MiB / 10)))"
pid=$(worker_pid http)
check "http's process is in its node" grep -qx "0::/$BASE/dyno/http" "/proc/$pid/cgroup"
check "http runs the configured command" grep -q "sleep" "/proc/$pid/cmdline"
check "queuer@1's process is in its node" grep -qx "0::/$BASE/dyno/dam/queuer@1" "/proc/$(worker_pid queuer@1)/cgroup"
wait_for 20 worker_running unpriv
check "User=/Group= drop the worker's credentials" grep -Eq "^Uid:\s+65534\s+65534\s+65534" "/proc/$(worker_pid unpriv)/status"
check "  and its groups" grep -Eq "^Gid:\s+65534\s+65534\s+65534" "/proc/$(worker_pid unpriv)/status"
check "the daemon lives in its own leaf" grep -qx "0::/$BASE/cgwatchd" "/proc/$DAEMON_PID/cgroup"
check "memory is enabled for the workers" grep -qw memory "$DYNO/dam/cgroup.subtree_control"
wait_for 5 log_has "env: A=1"
check "Environment= and CGWATCH_WORKER reach the worker" log_has "env: A=1 B=two words worker=env pwd=/tmp"
check "worker output is prefixed with the worker's name" log_has "^env: env: A=1"
check "--check-config prints the resolved tree" sh -c "'$CGWATCHD' -c '$CONF' --check-config | grep -q queuer"
printf '[Worker bad]\nMemoryBudget=12Q\n' >"$WORK/bad.conf"
check "a bad config names file, line and key" sh -c "'$CGWATCHD' -c '$WORK/bad.conf' --check-config 2>&1 | grep -q '$WORK/bad.conf:2: MemoryBudget'"
"$CGWATCHD" -c "$WORK/bad.conf" --check-config >/dev/null 2>&1
check "--check-config on a bad config exits 78" test $? = 78
say "daemon RSS: $(awk '/VmRSS/ {print $2, $3}' /proc/$DAEMON_PID/status)"
finish
