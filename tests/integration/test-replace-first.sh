#!/bin/bash
# ReplaceFirst=yes: the replacement starts in a fresh node and the old incarnation is stopped only
# after READY=1, so at least one instance runs at every moment; the old nodes are removed.
# Without headroom for two copies in the dyno, it falls back to stop-then-start and says so.
. "$(dirname "$0")/lib.sh"

write_conf <<EOF
[Dyno]
MemoryLimit=1G

[Worker rf]
ExecStart=$LEAKER --notify --steady 8 --rate 20
MemoryBudget=48M
ReplaceFirst=yes
ReadyTimeoutSec=20
EOF
start_daemon
wait_for 20 worker_running rf

# Sample the processes of rf's nodes (its usual one and any fresh rf~N) as fast as bash can
# without forking (TCG makes every fork cost milliseconds).
gaps=0 samples=0 both=0
end=$((SECONDS + ${CGW_OBSERVE_S:-20}))
shopt -s nullglob
while [ "$SECONDS" -lt "$end" ]; do
        n=0
        for f in "$DYNO"/rf/cgroup.procs "$DYNO"/rf~*/cgroup.procs; do
                mapfile -t procs 2>/dev/null <"$f" || continue
                n=$((n + ${#procs[@]}))
        done
        samples=$((samples + 1))
        [ "$n" -eq 0 ] && gaps=$((gaps + 1))
        [ "$n" -ge 2 ] && both=$((both + 1))
done
shopt -u nullglob
recycles=$(log_count "Recycling worker rf ")
say "rf: $recycles recycles; $samples samples, $both with old and new running together, $gaps with none"
check "rf was recycled at least twice" test "$recycles" -ge 2
check "the replacement was started first" log_has "(replacement first)"
check "the old incarnation was stopped after READY=1" log_has "rf: stopping the replaced incarnation"
check "old and new were seen running together" test "$both" -ge 1
check "no sample ever saw rf with no process" test "$gaps" = 0
# In the log, each "stopping the replaced incarnation" follows a start of a new pid.
check "each old incarnation is stopped only after its replacement started" sh -c "awk '
        /Worker rf started as pid/ { started++ }
        /rf: stopping the replaced incarnation/ { stopped++; if (stopped >= started) bad = 1 }
        END { exit bad }' '$LOG'"
# Each replacement has a fresh node (rf~N: cgroup v2 cannot rename); the old ones are removed.
nodes() { local n=0 d; for d in "$DYNO"/rf "$DYNO"/rf~*; do [ -d "$d" ] && n=$((n + 1)); done; echo $n; }
one_node() { [ "$(nodes)" = 1 ]; } # for wait_for, which does not re-expand $(...) in its arguments
check "the replaced incarnations' nodes are removed" wait_for 10 one_node
check "zero OOM kills" test "$(oom_kills)" = 0
stop_daemon

# No room for two copies: RecycleAt (90% of 96M) minus what rf holds is less than its budget.
write_conf <<EOF
[Dyno]
MemoryLimit=96M

[Worker rf]
ExecStart=$LEAKER --notify --steady 8 --rate 20
MemoryBudget=48M
ReplaceFirst=yes
EOF
LOG=$WORK/cgwatchd-2.log
start_daemon
wait_for 30 log_has "stopping first, then starting"
check "without headroom it falls back to stop-then-start and says so" log_has "stopping first, then starting"
check "zero OOM kills" test "$(oom_kills)" = 0
finish
