#!/bin/bash
# The seed's dyno end to end: its demo itself (examples/demo --here: examples/seed-dyno,
# Node.js + amqplib, under cgwatchd) against a real RabbitMQ, started once for the whole
# scenario: on the host's loopback when run through tests/integration/run-with-broker (the guest
# reaches it as CGWATCH_DEMO_BROKER=10.0.2.100:PORT), else on the guest's own (about 20 minutes
# to start under TCG). With the queuer leaking, at least SEED_MIN_MESSAGES (10,000)
# messages cross the dam while the queuer is recycled at least 5 times, every time with reason
# exactly `budget` and a clean exit 0 after its drain; none is lost (each id the broker
# confirmed is consumed; duplicates are counted and printed), the kernel OOM-kills nothing in
# any node, the dyno's memory.peak stays below its limit, and the innocent workers (http,
# connection_lock, retrier) are started exactly once, never recycled, and exit 0 on the stop.
# The demo's screen (cgwatchctl top, over the demo's own dbus-daemon) shows every worker.
. "$(dirname "$0")/lib.sh"
. "$SRC/examples/seed-dyno/seed.sh"

MIN_MESSAGES=${SEED_MIN_MESSAGES:-10000}
MIN_RECYCLES=5
missing=$(seed_missing)
if [ -n "$missing" ]; then
        say "SKIP: missing: $missing"
        [ "${CGWATCH_REQUIRE_VM:-0}" = 1 ] && { say "FAIL: CGWATCH_REQUIRE_VM=1"; exit 1; }
        exit 77
fi

demo=$WORK/demo
LOG=$demo/cgwatchd.log
t0=$SECONDS
CGWATCH_DEMO_SECONDS=20 CGWATCH_DEMO_MIN_MESSAGES=$MIN_MESSAGES CGWATCH_DEMO_MIN_RECYCLES=$MIN_RECYCLES \
        CGWATCH_DEMO_MAX_SECONDS=${SEED_MAX_SECONDS:-900} CGWATCH_DEMO_TTY=0 CGWATCH_DEMO_WORKDIR=$demo \
        "$SRC/examples/demo" --here | tee "$WORK/screen.txt"
demo_rc=${PIPESTATUS[0]}
say "demo exited $demo_rc after $((SECONDS - t0)) s"
if [ ! -s "$demo/summary.env" ]; then
        not_ok "the demo ran to its summary"
        finish
fi
. "$demo/summary.env"

check "at least $MIN_MESSAGES messages were confirmed ($produced)" test "$produced" -ge "$MIN_MESSAGES"
check "none lost" test "$lost" = 0
check "every consumed id was one the queuer had confirmed" test "$unconfirmed" = 0
say "duplicated deliveries: $duplicated"
n=$(log_count 'Recycling worker queuer ')
check "the queuer was recycled at least $MIN_RECYCLES times ($n)" test "$n" -ge "$MIN_RECYCLES"
check "every queuer recycle has reason budget" test "$(log_count 'Recycling worker queuer (pid [0-9]*): reason=budget ')" = "$n"
check "nobody else was recycled" test "$(log_count 'Recycling worker')" = "$n"
check "every queuer incarnation drained and exited 0" test "$(log_count 'Worker queuer (pid [0-9]*) exited with status 0')" = "$((n + 1))"
check "no worker hit StopTimeoutSec" test "$(log_count 'did not exit within')" = 0
for w in http connection_lock retrier; do
        check "$w was started exactly once" test "$(log_count "Worker $w started as pid")" = 1
        check "$w exited 0 on the daemon's stop" test "$(log_count "Worker $w (pid [0-9]*) exited with status 0")" = 1
done
check "zero OOM kills in every node" test "$ooms" = 0
check "no OOM kill was reported" test "$(log_count 'OOM-killed')" = 0
say "dyno memory.peak $((peak_bytes / MiB)) MiB of $((limit_bytes / MiB)) MiB"
check "the dyno's memory.peak stays below its limit" test "$peak_bytes" -lt "$limit_bytes"
check "cgwatchd exited 0" test "$daemon_status" = 0
check "the demo exited 0" test "$demo_rc" = 0
# Its screen is cgwatchctl top over the demo's own bus: frames with every worker's row in them.
check "the demo's screen shows frames of cgwatchctl top" test "$(grep -c '^cgwatch top - cgwatch.service - ' "$WORK/screen.txt")" -ge 3
for w in http connection_lock pusher queuer retrier; do
        check "  with $w's row" grep -Eq "^$w +running +[0-9]+ +\[[#.]{10}\] +[0-9]+% " "$WORK/screen.txt"
done
check "  and the queuer's recycles counted in it" grep -Eq '^queuer +running .* [1-9][0-9]* budget ' "$WORK/screen.txt"
check "cgwatchd removed its cgroups" test ! -e /sys/fs/cgroup/cgwatch-demo
latency_summary
finish
