#!/bin/bash
# The Debian package on a fresh system: `apt-get install ./cgwatch_*.deb` enables and starts
# cgwatch.service (dh_installsystemd's scripts) with the example config as a conffile, the example
# dyno runs, stop leaves nothing running, and purge leaves nothing behind: no file of dpkg -L,
# no /etc/cgwatch (with the daemon's own drop-in in it), no /run/cgwatch, no unit or enablement.
. "$(dirname "$0")/install-lib.sh"
DEB=${CGWATCH_DEB:?the .deb to test (tests/integration/run-deb-test builds it)}

# The build machines forbid service starts during package installation (policy-rc.d, see
# tools/install-deps); a real system has no such file. The man-db trigger would re-index every
# manual page over 9p: skip it, as the package's own paths do not depend on it.
rm -f /usr/sbin/policy-rc.d /var/lib/man-db/auto-update
for f in $INSTALLED_FILES; do
        rm -f "$f"
done
rm -rf /etc/cgwatch

t0=$(date +%s)
if DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "$DEB" >/tmp/apt.log 2>&1; then
        ok "apt-get install ./$(basename "$DEB")"
else
        not_ok "apt-get install ./$(basename "$DEB")"
        tail -n 30 /tmp/apt.log
fi
say "apt-get install took $(($(date +%s) - t0)) s"
check "dpkg says cgwatch is installed" sh -c "dpkg-query -W -f='\${Status}' cgwatch | grep -qx 'install ok installed'"
dpkg -L cgwatch >/tmp/dpkg-L
for f in $INSTALLED_FILES; do
        check "the package installed $f" sh -c "grep -qx '$f' /tmp/dpkg-L && test -f '$f'"
done
check "/etc/cgwatch/cgwatch.conf is a conffile" sh -c "dpkg-query -W -f='\${Conffiles}' cgwatch | grep -q '/etc/cgwatch/cgwatch.conf'"
check "the catalog trigger ran: the recycle entry is in the catalog database" \
        sh -c "journalctl --list-catalog $RECYCLE_ID | grep -q 'recycled worker'"
check "cgwatch.service was enabled on installation" systemctl is-enabled -q cgwatch.service
wait_for 30 systemctl is-active -q cgwatch.service
check_example_dyno

# Something the daemon writes itself, which dpkg does not know about: purge must remove it too.
check "cgwatchctl set-budget writes a drop-in" cgwatchctl set-budget http 80M
check "  /etc/cgwatch/cgwatch.conf.d/50-budget-http.conf" test -f /etc/cgwatch/cgwatch.conf.d/50-budget-http.conf

check "systemctl stop cgwatch" systemctl stop cgwatch
check_all_gone

t0=$(date +%s)
if DEBIAN_FRONTEND=noninteractive apt-get purge -y cgwatch >/tmp/purge.log 2>&1; then
        ok "apt-get purge cgwatch"
else
        not_ok "apt-get purge cgwatch"
        tail -n 30 /tmp/purge.log
fi
say "apt-get purge took $(($(date +%s) - t0)) s"
check "dpkg no longer knows cgwatch" sh -c "! dpkg-query -W -f='\${Status}' cgwatch 2>/dev/null | grep -q installed"
left=''
while read -r f; do
        # Directories the package shares with the system (/usr, /lib/systemd/system...) stay.
        [ -d "$f" ] && [ "${f#/etc/cgwatch}" = "$f" ] && [ "${f#/usr/share/doc/cgwatch}" = "$f" ] && continue
        [ -e "$f" ] && left="$left $f"
done </tmp/dpkg-L
check "no path of dpkg -L is left${left:+:$left}" test -z "$left"
check "/etc/cgwatch is gone" test ! -e /etc/cgwatch
check "/run/cgwatch is gone" test ! -e /run/cgwatch
check "/var/lib/cgwatch is gone" test ! -e /var/lib/cgwatch
check "no enablement symlink is left" sh -c "! ls /etc/systemd/system/*/cgwatch* 2>/dev/null | grep -q ."
# (Named one by one: the test harness's own cgwatch-vm-* units match cgwatch*.)
check "systemd knows none of the package's unit files" sh -c "! systemctl list-unit-files --no-legend cgwatch.service cgwatch@.service cgwatch-metrics.socket cgwatch-metrics@.service | grep -q ."
check "the D-Bus policy is gone" test ! -e /usr/share/dbus-1/system.d/org.cgwatch1.conf
finish_install_test
