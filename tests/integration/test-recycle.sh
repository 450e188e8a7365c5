#!/bin/bash
# Budget recycling on a real kernel: leakers at 1, 20 and 200 MB/s, a burst allocator and a
# worker whose forked children leak are each stopped while memory.current <= 1.05 x budget and
# restarted; a steady heap just under budget and a page-cache streamer (a file 10x its budget)
# are never recycled and start exactly once; every leaker recycle has reason budget (none
# pressure: the dyno never runs short); the dyno never reaches its limit and the kernel OOM-kills
# nothing.
. "$(dirname "$0")/lib.sh"

STREAM=${CGWATCH_STREAM_FILE:-}
[ -r "$STREAM" ] || { say "SKIP: no stream file (run me through tests/integration/run-in-vm)"; exit 77; }

write_conf <<EOF
[Dyno]
MemoryLimit=1280M
RecycleAt=90%

[Worker leak1]
# 1 MB/s on top of a 40 MB heap: crosses its 48M budget after ~8 s
ExecStart=$LEAKER --steady 40 --rate 1
MemoryBudget=48M

[Worker leak20]
ExecStart=$LEAKER --rate 20
MemoryBudget=64M

[Worker leak200]
ExecStart=$LEAKER --rate 200
MemoryBudget=64M

[Worker burst]
ExecStart=$LEAKER --burst 100 --burst-every 2 --burst-hold-ms 1000
MemoryBudget=64M

[Worker forker]
ExecStart=$LEAKER --fork 3 --rate 10
MemoryBudget=64M

[Worker steady]
ExecStart=$LEAKER --steady 50
MemoryBudget=64M

[Worker streamer]
ExecStart=$LEAKER --stream $STREAM
MemoryBudget=48M
EOF
start_daemon
OBSERVE=${CGW_OBSERVE_S:-25}
sleep "$OBSERVE"

# recycles NAME: the "Recycling worker NAME" lines
recycles() { grep "Recycling worker $1 " "$LOG" || true; }
# within_105 NAME: every recycle of NAME happened at memory.current <= 1.05 x budget
within_105() {
        recycles "$1" | awk '{
                for (i = 1; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
                if (v["current"] + 0 > 1.05 * v["budget"]) { bad++; print "  over: " $0 }
                n++
        } END { exit !(n > 0 && bad == 0) }'
}

for w in leak1 leak20 leak200 burst forker; do
        n=$(recycles $w | wc -l)
        say "$w: $n recycles in $OBSERVE s; first: $(recycles $w | head -n1 | sed 's/.*reason=/reason=/')"
        say "  reasons: $(recycles $w | grep -o 'reason=[a-z-]*' | sort | uniq -c | tr -s ' ' | tr '\n' ' ')"
        # The one right answer: a leaker is recycled for its budget, every time.
        check "$w is recycled, and only for reason budget" sh -c \
                "test \"\$(grep -c 'Recycling worker $w ' '$LOG')\" -gt 0 && ! grep 'Recycling worker $w ' '$LOG' | grep -qv 'reason=budget'"
        check "$w is stopped at memory.current <= 1.05 x budget" within_105 $w
        check "$w is restarted after its recycle" test "$(log_count "Worker $w started")" -ge 2
done
for w in leak20 leak200; do
        say "$w: $(grep "Worker $w leaks" "$LOG" | sed 's/.*leaks: //')"
        check "$w is judged a leaker, once" test "$(log_count "Worker $w leaks:")" = 1
done
check "the steady heap is never judged a leaker" test "$(log_count 'Worker steady leaks')" = 0
check "the steady heap (50M of 64M) is never recycled" test -z "$(recycles steady)"
check "the page-cache streamer is never recycled" test -z "$(recycles streamer)"
check "the steady heap was started exactly once" test "$(log_count 'Worker steady started')" = 1
check "the streamer was started exactly once" test "$(log_count 'Worker streamer started')" = 1
check "nobody was recycled for pressure (the dyno never ran short)" test -z "$(grep 'Recycling worker .*reason=pressure' "$LOG")"
check "the streamer really streamed (its high events fired)" test "$(awk '$1 == "high" {print $2}' "$DYNO/streamer/memory.events")" -gt 0
check "zero OOM kills in the dyno" test "$(oom_kills)" = 0
peak=$(value "$DYNO/memory.peak")
say "dyno memory.peak: $((peak / MiB)) MiB of 1280 MiB"
check "the dyno's peak stays below MemoryLimit" test "$peak" -lt $((1280 * MiB))
latency_summary
finish
