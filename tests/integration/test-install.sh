#!/bin/bash
# `make install` on a fresh system, then `systemctl enable --now cgwatch` with the example config:
# the files land where systemd, dbus-daemon and journalctl look (prefix /usr, systemd's unit dir,
# /usr/share/dbus-1/system.d, the catalog database rebuilt), an existing config is kept, the
# example dyno runs and `cgwatchctl status` shows it, and stop leaves nothing running; then
# `make uninstall` removes every file make install copied, keeping only the operator's config.
. "$(dirname "$0")/install-lib.sh"

# A fresh system: nothing of ours installed (the guest's root is the host's, under an overlay).
MAN_PAGES="/usr/share/man/man8/cgwatchd.8 /usr/share/man/man1/cgwatchctl.1 /usr/share/man/man5/cgwatch.conf.5
/usr/share/man/man7/cgwatch-events.7"
for f in $INSTALLED_FILES $MAN_PAGES; do
        rm -f "$f"
done
rm -rf /etc/cgwatch /usr/share/doc/cgwatch

# make_step TARGET: make TARGET in the source tree with the host-built build dir, timed.
make_step() {
        local t0
        t0=$(date +%s)
        if make -C "$SRC" "$1" BUILDDIR="$BUILD" >"/tmp/make-$1.log" 2>&1; then
                ok "make $1"
        else
                not_ok "make $1"
                tail -n 30 "/tmp/make-$1.log"
        fi
        say "make $1 took $(($(date +%s) - t0)) s"
}

make_step install
for f in $INSTALLED_FILES $MAN_PAGES; do
        check "installed $f" test -f "$f"
done
check "the unit dir is systemd's own (pkg-config)" \
        test -f "$(pkg-config --variable=systemdsystemunitdir systemd)/cgwatch.service"
check "/etc/cgwatch/cgwatch.conf is the example" cmp -s "$SRC/examples/cgwatch.conf" /etc/cgwatch/cgwatch.conf
check "journalctl --update-catalog ran: the recycle entry is in the catalog database" \
        sh -c "journalctl --list-catalog $RECYCLE_ID | grep -q 'recycled worker'"
# Debian 12 is merged-usr (/lib -> usr/lib) and its systemd's own unit dir is /lib/systemd/system
# (pkg-config): systemd names the unit by that path.
check "systemd sees the new unit without a manual daemon-reload" \
        test "$(systemctl show -p FragmentPath --value cgwatch.service)" = /lib/systemd/system/cgwatch.service

# An operator's config survives a second make install.
echo "# edited by the operator" >>/etc/cgwatch/cgwatch.conf
check "a second make install" sh -c 'make -C "$1" install BUILDDIR="$2" >/tmp/make-install2.log 2>&1' sh "$SRC" "$BUILD"
check "  keeps the operator's config" grep -qx "# edited by the operator" /etc/cgwatch/cgwatch.conf

check "systemctl enable --now cgwatch" systemctl enable --now cgwatch
check "cgwatch.service is enabled" systemctl is-enabled -q cgwatch.service
check_example_dyno
# Where the workers are, from the public API (the unit may put them in a scope of their own,
# --workers-scope): "name pid cgroup" per worker, each pid in its own ControlGroup.
cat >/tmp/workers.py <<'PY'
import json, subprocess
def ctl(*a): return json.loads(subprocess.check_output(["cgwatchctl", "--json", *a]))
for w in ctl("status")["workers"]:
    p = ctl("show", w["name"])
    cg = "/sys/fs/cgroup/" + p["ControlGroup"].lstrip("/")
    assert p["MainPID"] == w["pid"] > 0, (w, p)
    assert str(w["pid"]) in open(cg + "/cgroup.procs").read().split(), (w, cg)
    print(w["name"], w["pid"], cg)
PY
check "every worker's MainPID is in its ControlGroup (cgwatchctl --json show)" sh -c 'python3 /tmp/workers.py >/tmp/workers'
say "workers: $(awk '{ printf "%s %s %s; ", $1, $2, $3 }' /tmp/workers)"
check "  all six of the example" test "$(awk '{ print $1 }' /tmp/workers | sort | tr '\n' ' ')" = "$EXAMPLE_WORKERS "

check "systemctl stop cgwatch" systemctl stop cgwatch
check_all_gone
left=''
while read -r name pid cg; do
        kill -0 "$pid" 2>/dev/null && left="$left $name:$pid"
        [ -e "$cg" ] && left="$left $cg"
done </tmp/workers
check "no worker process and no worker cgroup is left${left:+:$left}" test -z "$left"
check "systemctl disable cgwatch" systemctl disable -q cgwatch

make_step uninstall
left=''
for f in $INSTALLED_FILES $MAN_PAGES /lib/systemd/system/cgwatch-metrics.socket \
        /lib/systemd/system/cgwatch-metrics@.service /usr/share/doc/cgwatch; do
        [ "$f" = /etc/cgwatch/cgwatch.conf ] || [ ! -e "$f" ] || left="$left $f"
done
check "make uninstall removed every file make install copied${left:+; left:$left}" test -z "$left"
check "  and kept the operator's config" grep -qx "# edited by the operator" /etc/cgwatch/cgwatch.conf
check "  the catalog database no longer has the recycle entry" \
        sh -c "! journalctl --list-catalog $RECYCLE_ID 2>/dev/null | grep -q 'recycled worker'"
check "  systemd knows none of the unit files" sh -c "! systemctl list-unit-files --no-legend cgwatch.service cgwatch@.service cgwatch-metrics.socket cgwatch-metrics@.service | grep -q ."
finish_install_test
