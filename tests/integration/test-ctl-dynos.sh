#!/bin/bash
# Every dyno on the bus, under a real systemd and system bus: cgwatch.service, cgwatch@a and
# cgwatch@b side by side, each with its own bus name under the one D-Bus policy;
# `--dyno a set-budget` changes a and nothing else (checked in the cgroup files); reads open and
# writes refused to an unprivileged caller on an instance too.
set -u
BUILD=${CGWATCH_BUILD:?}
SRC=${CGWATCH_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
. "$(dirname "$0")/assert.sh"
. "$(dirname "$0")/ctl-lib.sh"
[ "$(cat /proc/1/comm)" = systemd ] || { say "SKIP: PID 1 is not systemd (run me with run-in-vm --systemd)"; exit 77; }

ctl_install
for d in main a b; do
        conf=/etc/cgwatch/$d.conf
        [ $d = main ] && conf=/etc/cgwatch/cgwatch.conf
        cat >"$conf" <<CONF
[Dyno]
MemoryLimit=256M

[Worker web]
ExecStart=/bin/sleep 1000
MemoryBudget=64M
CONF
done
check "cgwatch.service, cgwatch@a and cgwatch@b start" systemctl start cgwatch.service cgwatch@a.service cgwatch@b.service
names=$(busctl --system list --no-legend | awk '{print $1}' | grep '^org\.cgwatch1' | sort | tr '\n' ' ')
say "bus names: $names"
check "each owns its own bus name" test "$names" = "org.cgwatch1 org.cgwatch1.dyno.a org.cgwatch1.dyno.b "
SYS=/sys/fs/cgroup/system.slice
CG_MAIN=$SYS/cgwatch.service/dyno/web
CG_A=$SYS/system-cgwatch.slice/cgwatch@a.service/dyno/web
CG_B=$SYS/system-cgwatch.slice/cgwatch@b.service/dyno/web
for d in a b; do
        check "cgwatchctl --dyno $d status lists its worker" within 120 sh -c "cgwatchctl --dyno $d status | grep -q '^web  *running'"
done

check "cgwatchctl --dyno a set-budget web 100M --runtime" cgwatchctl --dyno a set-budget web 100M --runtime
check "  a's memory.high changed" test "$(cat $CG_A/memory.high)" = "$(tripwire $((100 * MiB)))"
check "  b's did not" test "$(cat $CG_B/memory.high)" = "$(tripwire $((64 * MiB)))"
check "  nor cgwatch.service's" test "$(cat $CG_MAIN/memory.high)" = "$(tripwire $((64 * MiB)))"
check "--dyno a --json status: budget 100M" sh -c "cgwatchctl --dyno a --json status | python3 -c 'import json,sys; d=json.load(sys.stdin); assert d[\"workers\"][0][\"memory_budget\"] == 100 << 20'"
check "--dyno b --json status: budget 64M" sh -c "cgwatchctl --dyno b --json status | python3 -c 'import json,sys; d=json.load(sys.stdin); assert d[\"workers\"][0][\"memory_budget\"] == 64 << 20'"
check "an unprivileged user may read dyno b" nobody cgwatchctl --dyno b status
expect_exit 77 "an unprivileged user may not stop b's worker" nobody cgwatchctl --dyno b stop web
check "  b's worker still runs" sh -c "cgwatchctl --dyno b show web | grep -qx State=running"

ctl_finish
