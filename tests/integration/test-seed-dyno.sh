#!/bin/bash
# The seed's dyno end to end (examples/seed-dyno, Node.js + amqplib) against a real RabbitMQ on
# the guest's loopback, started once for the whole scenario: with the queuer leaking, at least
# SEED_MIN_MESSAGES (10,000) messages cross the dam while the queuer is recycled at least 5
# times, every time with reason exactly `budget`; none is lost (each id the broker confirmed is
# consumed; duplicates are counted and printed), the kernel OOM-kills nothing in any node, the
# dyno's memory.peak stays below its limit, and the innocent workers (http, connection_lock,
# retrier) are started exactly once, never recycled, and exit 0 on the daemon's stop.
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

seed_init "$WORK/seed"
trap broker_stop EXIT
t0=$SECONDS
if ! BROKER_START_TIMEOUT=${SEED_BROKER_START_TIMEOUT:-600} broker_start; then
        not_ok "the broker starts"
        finish
fi
say "broker up in ${BROKER_START_SECONDS} s on 127.0.0.1:$BROKER_PORT"
seed_write_conf "$CONF"
start_daemon
t_run=$SECONDS

queuer_recycles() { log_count 'Recycling worker queuer '; }
produced() { [ -s "$SEED_STATE/produced.log" ] && wc -l <"$SEED_STATE/produced.log" || echo 0; }
enough() { [ "$(produced)" -ge "$MIN_MESSAGES" ] && [ "$(queuer_recycles)" -ge "$MIN_RECYCLES" ]; }
wait_for 300 enough
say "after $((SECONDS - t_run)) s: $(produced) messages confirmed, $(queuer_recycles) queuer recycles"

# The end of the run: the queuer stops publishing, the consumers drain both queues.
touch "$SEED_STATE/queuer.pause"
drained() {
        seed_tally
        [ "$tally_lost" = 0 ]
}
wait_for 120 drained
drain_s=$((SECONDS - t_run))

peak=$(value "$DYNO/memory.peak")
limit=$(value "$DYNO/memory.max")
ooms=0
for ev in $(find "$DYNO" -name memory.events); do
        ooms=$((ooms + $(awk '$1 == "oom_kill" {print $2}' "$ev")))
done
stop_daemon
rc=$?
seed_tally

say "messages: produced $tally_produced, consumed $tally_consumed, lost $tally_lost, duplicated $tally_duplicated, consumed-but-unconfirmed $tally_unconfirmed, via the retrier $tally_retried"
say "recycles by reason: $(seed_recycles_by_reason "$LOG")"
say "dyno memory.peak $((peak / MiB)) MiB of $((limit / MiB)) MiB; OOM kills $ooms; run $drain_s s, broker start $BROKER_START_SECONDS s, total $((SECONDS - t0)) s"
grep 'Recycling worker queuer ' "$LOG" | sed 's/^\[[ 0-9.]*\] cgwatchd: /  /' | head -n 3

check "at least $MIN_MESSAGES messages were confirmed ($tally_produced)" test "$tally_produced" -ge "$MIN_MESSAGES"
check "none lost" test "$tally_lost" = 0
check "every consumed id was one the queuer had confirmed" test "$tally_unconfirmed" = 0
n=$(queuer_recycles)
check "the queuer was recycled at least $MIN_RECYCLES times ($n)" test "$n" -ge "$MIN_RECYCLES"
check "every queuer recycle has reason budget" test "$(log_count 'Recycling worker queuer (pid [0-9]*): reason=budget ')" = "$n"
check "nobody else was recycled" test "$(log_count 'Recycling worker')" = "$n"
check "every queuer incarnation drained and exited 0" test "$(log_count 'Worker queuer (pid [0-9]*) exited with status 0')" = "$((n + 1))"
check "no queuer incarnation hit StopTimeoutSec" test "$(log_count 'Worker queuer.*did not exit within')" = 0
for w in http connection_lock retrier; do
        check "$w was started exactly once" test "$(log_count "Worker $w started as pid")" = 1
        check "$w exited 0 on the daemon's stop" test "$(log_count "Worker $w (pid [0-9]*) exited with status 0")" = 1
done
check "zero OOM kills in every node" test "$ooms" = 0
check "no OOM kill was reported" test "$(log_count 'OOM-killed')" = 0
check "the dyno's memory.peak stays below its limit" test "$peak" -lt "$limit"
check "cgwatchd exited 0" test "$rc" = 0
latency_summary
finish
