# SPDX-License-Identifier: LGPL-2.1-or-later
# Shared by the cgwatchctl scenarios (test-ctl*.sh, systemd mode): install what a package would
# (daemon, CLI, units, D-Bus policy, completion) into the guest's throwaway root, and small
# helpers. Sourced after assert.sh.
LEAKER=$BUILD/tests/helpers/cgwatch-leaker
MiB=$((1024 * 1024))

ctl_install() {
        install -m 755 "$BUILD/cgwatchd" /usr/sbin/cgwatchd
        install -m 755 "$BUILD/cgwatchctl" /usr/bin/cgwatchctl
        install -m 644 -t /etc/systemd/system "$SRC/units/cgwatch.service" "$SRC/units/cgwatch@.service"
        install -m 644 -t /etc/dbus-1/system.d "$SRC/units/org.cgwatch1.conf"
        install -D -m 644 -t /usr/share/bash-completion/completions "$SRC/shell-completion/bash/cgwatchctl"
        mkdir -p /etc/cgwatch
        busctl call org.freedesktop.DBus /org/freedesktop/DBus org.freedesktop.DBus ReloadConfig >/dev/null
        systemctl daemon-reload
}

# memory.high is the tripwire below the budget: budget - budget/32 while nothing is learned.
tripwire() { echo $(($1 - $1 / 32)); }

# within SECONDS COMMAND...: polls COMMAND until it succeeds or SECONDS of wall time have passed
# (a deadline, not a count of tries: on a loaded emulated VM one try may take seconds).
within() {
        local deadline=$((SECONDS + $1))
        shift
        until "$@"; do
                [ $SECONDS -ge $deadline ] && return 1
                sleep 0.2
        done
}

# mark WHAT: where the time goes on a slow (emulated, shared) VM.
mark() { say "-- $SECONDS s: $*"; }

# An unprivileged caller.
nobody() { setpriv --reuid=65534 --regid=65534 --clear-groups "$@"; }

# expect_exit STATUS DESCRIPTION COMMAND...: COMMAND exits with exactly STATUS.
expect_exit() {
        local want=$1 d=$2 got
        shift 2
        "$@" >/dev/null 2>&1
        got=$?
        if [ "$got" = "$want" ]; then ok "$d (exit $got)"; else not_ok "$d (exit $got, want $want)"; fi
}

ctl_finish() {
        say "$PASSED passed, $FAILED failed, in $SECONDS s"
        if [ "$FAILED" -gt 0 ]; then
                journalctl --no-pager -u 'cgwatch*' | tail -n 60
        fi
        [ "$FAILED" -eq 0 ]
}

# cgwatch.service, cgwatch@a and cgwatch@b, each with one worker `web` (budget 64M), started and
# on the bus; sets CG_MAIN, CG_A and CG_B to their web nodes. Shared by test-ctl-dynos and
# test-ctl-ssh.
ctl_start_dynos() {
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
        # The shipped units run the workers in a scope of their own (--workers-scope).
        CG_MAIN=$SYS/cgwatch-workers.scope/dyno/web
        CG_A=$SYS/system-cgwatch.slice/cgwatch-a-workers.scope/dyno/web
        CG_B=$SYS/system-cgwatch.slice/cgwatch-b-workers.scope/dyno/web
        for d in a b; do
                check "cgwatchctl --dyno $d status lists its worker" within 120 sh -c "cgwatchctl --dyno $d status | grep -q '^web  *running'"
        done
}
