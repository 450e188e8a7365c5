#!/bin/bash
# Erlang strategies: one-for-all restarts every sibling when one dies; rest-for-one restarts the
# dead worker and those after it in config order; one-for-one only the dead one.
. "$(dirname "$0")/lib.sh"

write_conf <<EOF
[Supervisor all]
Strategy=one-for-all
[Supervisor rest]
Strategy=rest-for-one
[Supervisor one]
Strategy=one-for-one

[Worker a1]
ExecStart=/bin/sleep 1000
Supervisor=all
[Worker a2]
ExecStart=/bin/sleep 1000
Supervisor=all

[Worker r1]
ExecStart=/bin/sleep 1000
Supervisor=rest
[Worker r2]
ExecStart=/bin/sleep 1000
Supervisor=rest
[Worker r3]
ExecStart=/bin/sleep 1000
Supervisor=rest

[Worker o1]
ExecStart=/bin/sleep 1000
Supervisor=one
[Worker o2]
ExecStart=/bin/sleep 1000
Supervisor=one
EOF
start_daemon
for w in a1 a2 r1 r2 r3 o1 o2; do wait_for 20 worker_running $w; done
a1=$(worker_pid a1) a2=$(worker_pid a2) r1=$(worker_pid r1) r2=$(worker_pid r2) r3=$(worker_pid r3)
o1=$(worker_pid o1) o2=$(worker_pid o2)

# replaced NODE OLDPID: the node holds a process, and not OLDPID
replaced() { local p; p=$(head -n1 "$DYNO/$1/cgroup.procs"); [ -n "$p" ] && [ "$p" != "$2" ]; }

kill -KILL "$a2"
wait_for 20 replaced all/a2 "$a2"
wait_for 20 replaced all/a1 "$a1"
check "one-for-all: the dead worker is restarted" replaced all/a2 "$a2"
check "one-for-all: its sibling is restarted too" replaced all/a1 "$a1"

kill -KILL "$r2"
wait_for 20 replaced rest/r2 "$r2"
wait_for 20 replaced rest/r3 "$r3"
check "rest-for-one: the dead worker is restarted" replaced rest/r2 "$r2"
check "rest-for-one: the worker after it is restarted" replaced rest/r3 "$r3"
check "rest-for-one: the worker before it keeps running" test "$(worker_pid r1)" = "$r1"

kill -KILL "$o1"
wait_for 20 replaced one/o1 "$o1"
check "one-for-one: the dead worker is restarted" replaced one/o1 "$o1"
check "one-for-one: its sibling keeps running" test "$(worker_pid o2)" = "$o2"
finish
