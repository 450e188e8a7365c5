#!/bin/bash
# The sandbox of units/cgwatch.service and cgwatch@.service (README, "Hardening"): its
# systemd-analyze security score, and that it does not constrain the workers, which inherit it: a
# worker still writes to /tmp, /var and its WorkingDirectory (the host's namespace sees the files),
# runs under the unit's seccomp filter and bounding set, keeps CAP_SYS_ADMIN, may gain privileges,
# and gets LimitNOFILE's soft 1024 while the daemon raises its own. Then the journal's sockets out
# of the daemon's reach: it logs as text on its stream, once saying so.
. "$(dirname "$0")/install-lib.sh"
# systemd-analyze security for the units on Debian 12's systemd 252 (9.6 UNSAFE before the
# sandboxing): update it when the units' sandboxing changes.
HARDENED_SCORE="7.1 MEDIUM"

# Installed as the package would (test-install and test-deb do it the real way, slower).
install -m 755 "$BUILD/cgwatchd" /usr/sbin/cgwatchd
install -m 755 "$BUILD/cgwatchctl" /usr/bin/cgwatchctl
install -m 644 "$SRC/units/cgwatch.service" "$SRC/units/cgwatch@.service" /etc/systemd/system/
install -m 644 "$SRC/units/org.cgwatch1.conf" /etc/dbus-1/system.d/org.cgwatch1.conf
install -d /etc/cgwatch
install -m 644 "$SRC/examples/cgwatch.conf" /etc/cgwatch/cgwatch.conf
busctl call org.freedesktop.DBus /org/freedesktop/DBus org.freedesktop.DBus ReloadConfig >/dev/null
systemctl daemon-reload
check "systemctl start cgwatch (hardened)" systemctl start cgwatch
check_example_dyno

# The sandbox (units/cgwatch.service) must not constrain the workers: a worker added by a
# drop-in writes to /tmp, /var and its WorkingDirectory, and the host's namespace sees the files.
check "systemd-analyze security: the hardened unit scores $HARDENED_SCORE" \
        test "$(security_score cgwatch.service)" = "$HARDENED_SCORE"
check "  cgwatch@.service too" test "$(security_score cgwatch@x.service)" = "$HARDENED_SCORE"
check "no device allow-list on the delegated cgroup (every worker would inherit it)" \
        test "$(systemctl show -p DevicePolicy --value cgwatch.service):$(systemctl show -p DeviceAllow --value cgwatch.service)" = "auto:"
mkdir -p /var/lib/cgwatch-writer /srv/cgwatch-writer /etc/cgwatch/cgwatch.conf.d
cat >/etc/cgwatch/cgwatch.conf.d/90-writer.conf <<'CONF'
[Worker writer]
ExecStart=/bin/sh -c 'echo writer up, pid $$; echo tmp >/tmp/cgwatch-writer && echo var >/var/lib/cgwatch-writer/out && echo wd >here && exec sleep 1000'
WorkingDirectory=/srv/cgwatch-writer
MemoryBudget=16M
CONF
check "systemctl reload cgwatch (a worker that writes)" systemctl reload cgwatch
wait_for 60 test -s /srv/cgwatch-writer/here
check "  it wrote to /tmp, and the system's /tmp has it (no PrivateTmp)" grep -qx tmp /tmp/cgwatch-writer
check "  it wrote to /var (no ProtectSystem)" grep -qx var /var/lib/cgwatch-writer/out
check "  it wrote to its WorkingDirectory" grep -qx wd /srv/cgwatch-writer/here
wpid=$(cat "$SCOPE/dyno/writer/cgroup.procs" 2>/dev/null | head -n1)
dpid=$(systemctl show -p MainPID --value cgwatch.service)
say "  writer pid $wpid: $(grep -E '^(CapBnd|NoNewPrivs|Seccomp):' "/proc/$wpid/status" | tr '\n\t' '  ')"
check "  the worker runs under the unit's seccomp filter" grep -qx 'Seccomp:.2' "/proc/$wpid/status"
check "  without CAP_SYS_MODULE (16) in its bounding set" \
        sh -c "[ \$(( 0x\$(sed -n 's/^CapBnd:.//p' /proc/$wpid/status) >> 16 & 1 )) = 0 ]"
check "  but with CAP_SYS_ADMIN (21) and CAP_NET_BIND_SERVICE (10)" \
        sh -c "[ \$(( 0x\$(sed -n 's/^CapBnd:.//p' /proc/$wpid/status) >> 21 & 1 )) = 1 ] && [ \$(( 0x\$(sed -n 's/^CapBnd:.//p' /proc/$wpid/status) >> 10 & 1 )) = 1 ]"
check "  and may gain privileges (setuid helpers work: no NoNewPrivileges)" grep -qx 'NoNewPrivs:.0' "/proc/$wpid/status"
check "LimitNOFILE=1024:524288: the worker gets soft 1024" \
        sh -c "grep '^Max open files' /proc/$wpid/limits | grep -Eq ' 1024 +524288 '"
check "  and the daemon raised its own to 524288" \
        sh -c "grep '^Max open files' /proc/$dpid/limits | grep -Eq ' 524288 +524288 '"

# The journal unavailable at start (issue 9): journald's sockets out of the daemon's reach
# (InaccessiblePaths=/run/systemd/journal), its stdout still the unit's stream, which systemd
# opened before the sandbox. Supervision goes on, the daemon says so once, and nothing is lost:
# its messages and the workers' output arrive as text on that stream.
mkdir -p /run/systemd/system/cgwatch.service.d
printf '[Service]\nInaccessiblePaths=/run/systemd/journal\n' >/run/systemd/system/cgwatch.service.d/50-no-journal.conf
systemctl daemon-reload
# --cursor, not --after-cursor: with -p, journalctl 252 skipped the first matching entry after
# the cursor (seen in this test).
cursor=$(journalctl --show-cursor -n 0 -q | sed -n 's/^-- cursor: //p')
since() { journalctl -q -o cat -u cgwatch.service --cursor="$cursor" "$@"; }
# Without the journal the daemon reads the workers' output and relays it, "NAME: " first.
outputs() { since | grep -c '^writer: writer up, pid'; }
check "systemctl restart cgwatch, the journal's sockets out of its reach" systemctl restart cgwatch
all_running() { [ "$(worker_states)" = "$( (expected_states; echo writer running) | sort)" ]; }
wait_slowly 60 all_running
check "  every worker runs again (the example's and the writer)" all_running
wait_slowly 30 sh -c "journalctl -q -o cat -u cgwatch.service --cursor='$cursor' | grep -q '^writer: writer up'"
say "  journal of cgwatch.service since the restart (first lines):"
since | head -n 6 | sed 's/^/    /'
check "  the daemon says once that the journal's socket is unavailable" \
        test "$(since | grep -c "The journal's socket is unavailable")" = 1
check "  its messages still reach the journal, as text on its stream" test "$(since | grep -c '^Worker writer started as pid')" = 1
check "  at their priority (the stream's <N> prefix): the note is a warning, a start is not" \
        test "$(since -p warning | grep -c "The journal's socket is unavailable\|Worker writer started as pid")" = 1
check "  the worker's output too, relayed by the daemon with the worker's name" test "$(outputs)" = 1
check "  supervision goes on: a recycle by hand" cgwatchctl recycle writer
wait_slowly 60 sh -c "[ \$(journalctl -q -o cat -u cgwatch.service --cursor='$cursor' | grep -c '^writer: writer up, pid') -ge 2 ]"
check "  starts the writer again, its output still arriving" test "$(outputs)" = 2
check "  the unavailable journal still said once" test "$(since | grep -c "The journal's socket is unavailable")" = 1
rm /run/systemd/system/cgwatch.service.d/50-no-journal.conf
systemctl daemon-reload

check "systemctl stop cgwatch" systemctl stop cgwatch
check_all_gone
finish_install_test
