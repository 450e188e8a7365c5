#!/bin/bash
# Bad input over the real system bus (systemd as PID 1): SetBudget refuses budgets below the
# floor, max(4M, what the worker holds unreclaimable now), and above the dyno's MemoryLimit, with
# org.cgwatch1.BudgetBelowFloor / BudgetAboveLimit, and changes nothing (memory.high, the
# property, no drop-in); unknown, empty and huge worker names get org.cgwatch1.NoSuchWorker. Then
# tests/fuzz/bus-fuzz.c throws hundreds of hostile calls at every method and property, as root
# and as nobody: no call unanswered, the daemon never restarted, no worker touched.
. "$(dirname "$0")/lib-systemd.sh"
install_cgwatch
cat >/etc/cgwatch/cgwatch.conf <<CONF
[Dyno]
MemoryLimit=512M

[Worker http]
ExecStart=/bin/sleep 100000
MemoryBudget=64M

[Worker holder]
ExecStart=$BUILD/tests/helpers/cgwatch-leaker --steady 40
MemoryBudget=100M
CONF
busctl call org.freedesktop.DBus /org/freedesktop/DBus org.freedesktop.DBus ReloadConfig >/dev/null
systemctl daemon-reload
check "cgwatch.service starts" systemctl start cgwatch.service
CGS=/sys/fs/cgroup/system.slice/cgwatch-workers.scope # the shipped unit: --workers-scope
pid0=$(systemctl show -p MainPID --value cgwatch.service)
wait_for 60 sh -c "cgwatchctl show holder 2>/dev/null | grep -qx State=running"
# the holder's 40 MiB are resident once it says so
wait_for 60 sh -c "journalctl -t holder --no-pager | grep -q 'leaker: ready'"

# dbus-send prints the error's name ("Error org.cgwatch1.NoSuchWorker: ..."); busctl only its text.
mgr() {
        local m=$1
        shift
        dbus-send --system --print-reply --dest=org.cgwatch1 /org/cgwatch1 "org.cgwatch1.Manager.$m" "$@"
}
# has PATTERN TEXT: TEXT contains PATTERN (the errors carry apostrophes: no sh -c "echo '...'")
has() { grep -q -- "$1" <<<"$2"; }
# tallies NAME: the worker's main PID and how often it was restarted and recycled
tallies() { cgwatchctl show "$1" | grep -E '^(MainPID|Restarts|Recycles)=' | paste -sd ' '; }
# same_tallies NAME BEFORE: tallies NAME still reads BEFORE, which did read all three
same_tallies() { has Recycles= "$2" && has Restarts= "$2" && test "$(tallies "$1")" = "$2"; }
# refused NAME BYTES ERROR: SetBudget refused with exactly ERROR; memory.high, MemoryBudget, the
# drop-in, the worker's PID and its Restarts and Recycles unchanged.
refused() {
        local high0 budget0 tallies0 out
        high0=$(cat "$CGS/dyno/$1/memory.high")
        budget0=$(busctl --system get-property org.cgwatch1 "/org/cgwatch1/worker/$1" org.cgwatch1.Worker MemoryBudget)
        tallies0=$(tallies "$1")
        out=$(mgr SetBudget string:"$1" uint64:"$2" boolean:false 2>&1)
        say "  SetBudget $1 $2: $out"
        check "SetBudget $1 $2 refused with $3" has "$3" "$out"
        check "  memory.high of $1 unchanged" test "$(cat "$CGS/dyno/$1/memory.high")" = "$high0"
        check "  MemoryBudget of $1 unchanged" test "$(busctl --system get-property org.cgwatch1 "/org/cgwatch1/worker/$1" org.cgwatch1.Worker MemoryBudget)" = "$budget0"
        check "  no drop-in written" test ! -e "/etc/cgwatch/cgwatch.conf.d/50-budget-$1.conf"
        check "  $1 not restarted nor recycled (${tallies0:-?})" same_tallies "$1" "$tallies0"
}
refused http 1024 "org.cgwatch1.BudgetBelowFloor"
refused http 0 "org.cgwatch1.BudgetBelowFloor"
refused http $((4 * 1024 * 1024 - 1)) "org.cgwatch1.BudgetBelowFloor"
refused http $((512 * 1024 * 1024 + 1)) "org.cgwatch1.BudgetAboveLimit"
refused http 18446744073709551615 "org.cgwatch1.BudgetAboveLimit"
# The holder has 40 MiB resident: 30M is above 4M but below what it holds.
refused holder $((30 * 1024 * 1024)) "org.cgwatch1.BudgetBelowFloor"
out=$(mgr SetBudget string:holder uint64:$((30 * 1024 * 1024)) boolean:true 2>&1)
floor=$(grep -o 'floor of [0-9]*' <<<"$out" | grep -o '[0-9]*')
check "  the error names the floor it applied, what holder holds (${floor:-?} >= 40 MiB)" test "${floor:-0}" -ge $((40 * 1024 * 1024))
check "the floor itself (4M) is accepted for http" mgr SetBudget string:http uint64:$((4 * 1024 * 1024)) boolean:true
check "  memory.high follows" test "$(cat "$CGS/dyno/http/memory.high")" = $((4194304 - 4194304 / 32))
check "the limit itself is accepted" mgr SetBudget string:http uint64:$((512 * 1024 * 1024)) boolean:true
check "back to 64M" mgr SetBudget string:http uint64:$((64 * 1024 * 1024)) boolean:true

# Unknown, empty and huge names.
for n in nosuch "" "http " "../../etc"; do
        out=$(mgr StopWorker string:"$n" 2>&1)
        check "StopWorker '$n' refused with NoSuchWorker" has org.cgwatch1.NoSuchWorker "$out"
done
big=$(head -c 120000 /dev/zero | tr '\0' x)
out=$(mgr GetWorker string:"$big" 2>&1)
check "GetWorker with a 120 kB name: NoSuchWorker" has org.cgwatch1.NoSuchWorker "$out"
check "  and the error message is bounded (< 200 bytes)" test "${#out}" -lt 200
check "both workers still run, started once" sh -c "cgwatchctl show http | grep -qx Restarts=0 && cgwatchctl show holder | grep -qx Restarts=0"
check "  and never recycled" \
        sh -c "cgwatchctl show http | grep -qx Recycles=0 && cgwatchctl show holder | grep -qx Recycles=0"

# The fuzz client, as root and as nobody.
"$BUILD/tests/bus-fuzz" --calls 300 --seed 1
check "bus-fuzz as root: every call answered, nothing changed" test $? = 0
setpriv --reuid=65534 --regid=65534 --clear-groups "$BUILD/tests/bus-fuzz" --calls 150 --seed 2 --unprivileged
check "bus-fuzz as nobody: every write AccessDenied, nothing changed" test $? = 0
check "the daemon still runs, never restarted" test "$(systemctl show -p MainPID --value cgwatch.service)" = "$pid0"
check "  NRestarts=0" test "$(systemctl show -p NRestarts --value cgwatch.service)" = 0
check "  and answers" cgwatchctl status
check "systemctl stop" systemctl stop cgwatch.service
check "  cleanly (no failed state)" sh -c "! systemctl is-failed -q cgwatch.service"
say "$PASSED passed, $FAILED failed"
[ "$FAILED" -gt 0 ] && journalctl -u cgwatch --no-pager | tail -n 60
[ "$FAILED" -eq 0 ]
