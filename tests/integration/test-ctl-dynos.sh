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
ctl_start_dynos

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
