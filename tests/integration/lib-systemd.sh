# SPDX-License-Identifier: LGPL-2.1-or-later
# Shared by the scenarios under systemd as PID 1 (tests/vm/run --systemd): asserts, the SKIP
# outside such a VM, and install_cgwatch, which installs the built daemon, CLI, unit, D-Bus
# policy and catalog as a package would (the guest's root is a throwaway overlay).
set -u
BUILD=${CGWATCH_BUILD:?}
SRC=${CGWATCH_SRC:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
. "$(dirname "${BASH_SOURCE[0]}")/assert.sh"
[ "$(cat /proc/1/comm)" = systemd ] || { say "SKIP: PID 1 is not systemd (run me with tests/vm/run --systemd)"; exit 77; }

install_cgwatch() {
        install -m 755 "$BUILD/cgwatchd" /usr/sbin/cgwatchd
        install -m 755 "$BUILD/cgwatchctl" /usr/bin/cgwatchctl
        install -m 644 "$SRC/units/cgwatch.service" /etc/systemd/system/cgwatch.service
        install -m 644 "$SRC/units/org.cgwatch1.conf" /etc/dbus-1/system.d/org.cgwatch1.conf
        install -m 644 "$SRC/units/cgwatch.catalog" /usr/lib/systemd/catalog/cgwatch.catalog
        journalctl --update-catalog 2>/dev/null
        mkdir -p /etc/cgwatch
}
