#!/bin/bash
# The time-based reasons: lifetime (MaxLifetimeSec), idle (IdleTimeoutSec: no CPU used for that
# long, the seed's own remedy), watchdog (no WATCHDOG=1 within WatchdogSec); and their
# counterparts that must not fire: a busy worker is not idle, a worker that keeps petting its
# watchdog is not recycled; IdleRecycleAbove= recycles an idle worker above it (idle-early), not
# one below it nor a busy one.
. "$(dirname "$0")/lib.sh"

write_conf <<EOF
[Worker old]
ExecStart=/bin/sleep 1000
MaxLifetimeSec=3

[Worker lazy]
ExecStart=$LEAKER --cpu-idle
IdleTimeoutSec=2

[Worker busy]
ExecStart=$LEAKER --cpu-busy
IdleTimeoutSec=2

[Worker hung]
ExecStart=$LEAKER --watchdog-ms 200 --watchdog-stop-after 2
WatchdogSec=1

[Worker alive]
# 15 pings per period: a start slowed by a loaded host (it took 1.1 s once) is not a hang
ExecStart=$LEAKER --watchdog-ms 200
WatchdogSec=3

[Worker early]
# 30 MB held, then idle: above 40% of 64M, so recycled at its first idle second
ExecStart=$LEAKER --steady 30 --cpu-idle
MemoryBudget=64M
IdleRecycleAbove=40%
IdleRecycleAfterSec=1s

[Worker small]
# idle too, but below the threshold: left alone
ExecStart=$LEAKER --steady 8 --cpu-idle
MemoryBudget=64M
IdleRecycleAbove=40%

[Worker eager]
# above the threshold but never idle: left alone
ExecStart=$LEAKER --steady 30 --cpu-busy
MemoryBudget=64M
IdleRecycleAbove=40%
EOF
start_daemon
t0=$(now_ms)
wait_for 30 sh -c "grep -q 'Recycling worker old .*reason=lifetime' '$LOG' && grep -q 'Recycling worker lazy .*reason=idle' '$LOG' && grep -q 'Recycling worker hung .*reason=watchdog' '$LOG' && grep -q 'Recycling worker early .*reason=idle-early' '$LOG'"
say "all three time-based recycles seen after $(($(now_ms) - t0)) ms"
sleep 4
check "MaxLifetimeSec recycles with reason lifetime" log_has "Recycling worker old .*reason=lifetime"
check "IdleTimeoutSec recycles an idle worker with reason idle" log_has "Recycling worker lazy .*reason=idle"
check "WatchdogSec recycles a worker that stopped sending WATCHDOG=1" log_has "Recycling worker hung .*reason=watchdog"
check "a busy worker is never idle-recycled" test -z "$(grep 'Recycling worker busy' "$LOG")"
check "a worker that keeps sending WATCHDOG=1 is never recycled" test -z "$(grep 'Recycling worker alive' "$LOG")"
check "IdleRecycleAbove recycles an idle worker above it with reason idle-early" log_has "Recycling worker early .*reason=idle-early"
check "  and only for idle-early" test -z "$(grep 'Recycling worker early ' "$LOG" | grep -v 'reason=idle-early')"
check "an idle worker below IdleRecycleAbove is left alone, started once" sh -c "test -z \"\$(grep 'Recycling worker small' '$LOG')\" && test \"\$(grep -c 'Worker small started' '$LOG')\" = 1"
check "a busy worker above IdleRecycleAbove is left alone, started once" sh -c "test -z \"\$(grep 'Recycling worker eager' '$LOG')\" && test \"\$(grep -c 'Worker eager started' '$LOG')\" = 1"
# Lifetime is measured from each start: with MaxLifetimeSec=3, a few seconds hold only a few.
n=$(log_count "Recycling worker old ")
say "old: $n lifetime recycles in about $((($(now_ms) - t0) / 1000)) s"
check "lifetime recycles are at least MaxLifetimeSec apart" test "$n" -le $((($(now_ms) - t0) / 3000 + 1))
finish
