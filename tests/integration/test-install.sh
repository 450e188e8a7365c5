#!/bin/bash
# `make install` on a fresh system, then `systemctl enable --now cgwatch` with the example config:
# the files land where systemd, dbus-daemon and journalctl look (prefix /usr, systemd's unit dir,
# /usr/share/dbus-1/system.d, the catalog database rebuilt), an existing config is kept, the
# example dyno runs and `cgwatchctl status` shows it, and stop leaves nothing running.
. "$(dirname "$0")/install-lib.sh"

# A fresh system: nothing of ours installed (the guest's root is the host's, under an overlay).
for f in $INSTALLED_FILES; do
        rm -f "$f"
done
rm -rf /etc/cgwatch

t0=$(date +%s)
if make -C "$SRC" install BUILDDIR="$BUILD" >/tmp/make-install.log 2>&1; then
        ok "make install"
else
        not_ok "make install"
        tail -n 30 /tmp/make-install.log
fi
say "make install took $(($(date +%s) - t0)) s"
for f in $INSTALLED_FILES /usr/share/man/man8/cgwatchd.8 /usr/share/man/man1/cgwatchctl.1 \
        /usr/share/man/man5/cgwatch.conf.5 /usr/share/man/man7/cgwatch-events.7; do
        check "installed $f" test -f "$f"
done
check "the unit dir is systemd's own (pkg-config)" \
        test -f "$(pkg-config --variable=systemdsystemunitdir systemd)/cgwatch.service"
check "/etc/cgwatch/cgwatch.conf is the example" cmp -s "$SRC/examples/cgwatch.conf" /etc/cgwatch/cgwatch.conf
check "journalctl --update-catalog ran: the recycle entry is in the catalog database" \
        sh -c "journalctl --list-catalog $RECYCLE_ID | grep -q 'recycled worker'"
check "systemd sees the new unit without a manual daemon-reload" \
        test "$(systemctl show -p FragmentPath --value cgwatch.service)" = /lib/systemd/system/cgwatch.service

# An operator's config survives a second make install.
echo "# edited by the operator" >>/etc/cgwatch/cgwatch.conf
check "a second make install" sh -c 'make -C "$1" install BUILDDIR="$2" >/tmp/make-install2.log 2>&1' sh "$SRC" "$BUILD"
check "  keeps the operator's config" grep -qx "# edited by the operator" /etc/cgwatch/cgwatch.conf

check "systemctl enable --now cgwatch" systemctl enable --now cgwatch
check "cgwatch.service is enabled" systemctl is-enabled -q cgwatch.service
check_example_dyno

check "systemctl stop cgwatch" systemctl stop cgwatch
check_all_gone
check "systemctl disable cgwatch" systemctl disable -q cgwatch
finish_install_test
