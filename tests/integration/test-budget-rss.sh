#!/bin/bash
# BudgetCountsRSS=yes (issue 7, RSS at the stop signal): a worker's RSS counts file pages that
# another cgroup was charged for (a binary or a file mapped after someone else read it), which
# its node's memory.current does not. Three workers map the same 32 MiB file, which the test
# itself wrote first (so its pages are charged to the test's cgroup, not theirs):
#   rss     leaks 4 MiB/s, MemoryBudget=64M, BudgetCountsRSS=yes: its tripwire sits 32 MiB lower
#           once probed, it is recycled for its budget, and its RSS at the stop signal is at most
#           1.05 x the budget;
#   node    the same leak without the option: recycled for its budget by its node's memory, its
#           RSS then about 32 MiB above the budget (the default counts the node only);
#   steady  holds 8 MiB plus the map (RSS about 40 MiB of 64) with the option: never recycled,
#           started exactly once.
. "$(dirname "$0")/lib.sh"

head -c $((32 * MiB)) /dev/urandom >"$WORK/mapped"
write_conf <<CONF
[Dyno]
MemoryLimit=1G

[Worker rss]
ExecStart=$LEAKER --map $WORK/mapped --rate 4
MemoryBudget=64M
BudgetCountsRSS=yes

[Worker node]
ExecStart=$LEAKER --map $WORK/mapped --rate 4
MemoryBudget=64M

[Worker steady]
ExecStart=$LEAKER --map $WORK/mapped --steady 8
MemoryBudget=64M
BudgetCountsRSS=yes
CONF
start_daemon --debug
recycled() { grep -q "Recycling worker $1 (pid" "$LOG"; }
wait_for 60 recycled rss && wait_for 60 recycled node || not_ok "both leakers were recycled"
wait_for 30 sh -c "grep -q '^rss: leaker: stop pid' $LOG && grep -q '^node: leaker: stop pid' $LOG" ||
        not_ok "both stop handlers ran"
probe=$(grep -m1 'Worker rss: VmRSS' "$LOG")
say "first probe: ${probe#*cgwatchd: }"
stop_rss() { grep -m1 "^$1: leaker: stop pid" "$LOG" | sed 's/.*rss_mb=\([0-9.]*\).*/\1/'; }
say "rss at the stop signal: rss ${RSS:=$(stop_rss rss)} MiB, node ${NODE:=$(stop_rss node)} MiB (budget 64)"
say "$(grep 'Recycling worker \(rss\|node\)' "$LOG" | head -n 2 | sed 's/.*cgwatchd: //')"
check "rss's probe found its mapped file uncharged and lowered its tripwire by about 32 MiB" \
        sh -c "grep -m1 'Worker rss: VmRSS' $LOG | awk '{ for (i = 1; i <= NF; i++) if (\$i == \"->\") { split(\$(i - 1), a, \":\"); b = \$(i + 1) + 0 } } END { exit !(b < 64 * 1048576 - 28 * 1048576) }'"
check "rss was recycled for its budget" grep -q 'Recycling worker rss (pid [0-9]*): reason=budget' "$LOG"
check "  its RSS at the stop signal is at most 1.05 x its budget" awk -v r="$RSS" 'BEGIN { exit !(r > 0 && r <= 64 * 1.05) }'
check "node was recycled for its budget" grep -q 'Recycling worker node (pid [0-9]*): reason=budget' "$LOG"
check "  by its node only: its RSS at the signal is above the budget by about the map" \
        awk -v r="$NODE" 'BEGIN { exit !(r > 64 + 24) }'
check "steady (RSS about 40 of 64 MiB, with the option) was never recycled" sh -c "! grep -q 'Recycling worker steady' $LOG"
check "  and started exactly once" test "$(log_count 'Worker steady started as pid')" = 1
check "rss is probed a few times per life, not polled: at most 8 probes in its first life" \
        test "$(awk '/Worker rss started as pid/ { n++ } n == 1 && /Worker rss: VmRSS/ { p++ } END { print p + 0 }' "$LOG")" -le 8
stop_daemon
finish
