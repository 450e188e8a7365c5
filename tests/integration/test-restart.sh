#!/bin/bash
# A crashing worker is restarted with exponential backoff and given up on after MaxRestarts
# within RestartWindowSec; Restart=on-failure leaves a clean exit alone.
. "$(dirname "$0")/lib.sh"

write_conf <<EOF
[Dyno]
MaxRestarts=3
RestartWindowSec=60

[Worker crasher]
ExecStart=/bin/sh -c 'sleep 0.2; exit 3'
RestartSec=200ms
RestartMaxSec=5s

[Supervisor calm]
MaxRestarts=10

[Worker clean]
ExecStart=/bin/sh -c 'sleep 0.2; exit 0'
Restart=on-failure
Supervisor=calm

[Worker steady]
ExecStart=/bin/sleep 1000
Supervisor=calm
EOF
start_daemon
wait_for 60 log_has "giving up"
check "first restart after 200 ms" log_has "crasher: restarting in 200 ms (failure 1 in a row)"
check "second restart after 400 ms" log_has "crasher: restarting in 400 ms (failure 2 in a row)"
check "third restart after 800 ms" log_has "crasher: restarting in 800 ms (failure 3 in a row)"
check "the fourth death exceeds MaxRestarts=3" log_has "more than 3 restarts within 60 s, giving up"
check "exactly 4 starts of crasher" test "$(log_count 'Worker crasher started')" = 4
sleep 2
check "crasher stays down (no new start after giving up)" test "$(log_count 'Worker crasher started')" = 4
check "crasher's node is empty" test -z "$(cat "$DYNO/crasher/cgroup.procs")"
check "clean exit with Restart=on-failure is not restarted" test "$(log_count 'Worker clean started')" = 1
check "a sibling group is unaffected" worker_running steady
finish
