#!/bin/bash
# A crashing worker is restarted with exponential backoff; more than MaxRestarts within
# RestartWindowSec fails its group, whose parent (here the dyno) restarts the group afresh: backoff
# starts over. Restart=on-failure leaves a clean exit alone. (test-escalation.sh covers the way up.)
. "$(dirname "$0")/lib.sh"

# The dyno's own intensity is out of reach here: crashy fails about every 2.5 s, and with
# MaxRestarts=10 the dyno gave up 27 s in, stopping steady under a check that ran late (CI, once,
# after the wait below had sat out its 20 s on a count expanded once).
write_conf <<EOF
[Dyno]
MaxRestarts=1000
RestartWindowSec=60

[Supervisor crashy]
MaxRestarts=3
RestartWindowSec=60

[Worker crasher]
ExecStart=/bin/sh -c 'sleep 0.2; exit 3'
Supervisor=crashy
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
wait_for 60 log_has "restarts supervisor crashy"
# starts_before PATTERN: starts of crasher logged before the first line matching PATTERN
starts_before() { awk -v p="$1" 'index($0, p) { exit } /Worker crasher started/ { n++ } END { print n + 0 }' "$LOG"; }
check "first restart after 200 ms" log_has "crasher: restarting in 200 ms (failure 1 in a row)"
check "second restart after 400 ms" log_has "crasher: restarting in 400 ms (failure 2 in a row)"
check "third restart after 800 ms" log_has "crasher: restarting in 800 ms (failure 3 in a row)"
check "the fourth death exceeds MaxRestarts=3" \
        log_has "Supervisor crashy: more than 3 restarts within 60 s, giving up; the failure escalates to the dyno."
check "exactly 4 starts of crasher before its group gave up" test "$(starts_before "Supervisor crashy: more")" = 4
check "the dyno restarts the failed group" log_has "The dyno restarts supervisor crashy."
# (A function: wait_for re-runs its command, it does not re-expand a $(...) in its arguments.)
crasher_started_6() { [ "$(log_count 'Worker crasher started')" -ge 6 ]; }
wait_for 20 crasher_started_6
check "the restarted group starts afresh (backoff from 200 ms again)" \
        test "$(log_count 'crasher: restarting in 200 ms (failure 1 in a row)')" -ge 2
check "no 1600 ms backoff: the failure count was reset" test "$(log_count 'restarting in 1600 ms')" = 0
check "clean exit with Restart=on-failure is not restarted" test "$(log_count 'Worker clean started')" = 1
check "a sibling group is unaffected" test "$(log_count 'Worker steady started')" = 1
check "steady still runs" worker_running steady
finish
