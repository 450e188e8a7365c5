# SPDX-License-Identifier: LGPL-2.1-or-later
# Shared by the install scenarios (test-install.sh: make install; test-deb.sh: the .deb). They run
# under a real systemd as PID 1 (tests/vm/run --systemd) and install into the guest's throwaway
# overlay, as an operator would on a fresh machine.
set -u
BUILD=${CGWATCH_BUILD:?}
SRC=${CGWATCH_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
. "$(dirname "${BASH_SOURCE[0]}")/assert.sh"
[ "$(cat /proc/1/comm)" = systemd ] || { say "SKIP: PID 1 is not systemd (run me with tests/vm/run --systemd)"; exit 77; }

CGS=/sys/fs/cgroup/system.slice/cgwatch.service
# The shipped unit passes --workers-scope: the dyno lives in the workers' transient scope.
SCOPE=/sys/fs/cgroup/system.slice/cgwatch-workers.scope
# The workers of examples/cgwatch.conf, as ListWorkers names them, sorted.
EXAMPLE_WORKERS="connection_lock http pusher queuer@1 queuer@2 retrier"
# What an installation puts on the system (the package's dpkg -L is checked against it too).
INSTALLED_FILES="/usr/sbin/cgwatchd /usr/bin/cgwatchctl
/lib/systemd/system/cgwatch.service /lib/systemd/system/cgwatch@.service
/usr/share/dbus-1/system.d/org.cgwatch1.conf /usr/lib/systemd/catalog/cgwatch.catalog
/usr/share/bash-completion/completions/cgwatchctl
/etc/cgwatch/cgwatch.conf"
RECYCLE_ID=97009755ed7a4d278c1470ac79afd92a

# "name state" per worker, sorted, from the public API (cgwatchctl --json status).
worker_states() {
        cgwatchctl --json status 2>/dev/null |
                python3 -c 'import json,sys; [print(w["name"], w["state"]) for w in sorted(json.load(sys.stdin)["workers"], key=lambda w: w["name"])]'
}

expected_states() {
        local w
        for w in $EXAMPLE_WORKERS; do echo "$w running"; done
}

example_running() { [ "$(worker_states)" = "$(expected_states)" ]; }

# wait_slowly SECONDS COMMAND...: like wait_for, polling every 0.5 s (the command starts python3).
wait_slowly() {
        local limit=$1 i=0
        shift
        until "$@"; do
                i=$((i + 1))
                [ $i -ge $((limit * 2)) ] && return 1
                sleep 0.5
        done
}

# The service runs the example dyno: every worker running, in the service's delegated subtree.
check_example_dyno() {
        check "cgwatch.service is active" systemctl is-active -q cgwatch.service
        wait_slowly 60 example_running
        say "cgwatchctl status:"
        cgwatchctl status | sed 's/^/  /'
        check "cgwatchctl status shows the example's workers, all running" example_running
        check "org.cgwatch1 is on the system bus (the installed policy let it own the name)" \
                sh -c "busctl --system list --no-legend | grep -q '^org.cgwatch1 '"
        check "the workers live in the workers' scope, cgwatch-workers.scope" test -d "$SCOPE/dyno/dam/queuer@2"
        check "the scope is delegated to the daemon" sh -c "systemctl show -p Delegate --value cgwatch-workers.scope | grep -qx yes"
}

# After systemctl stop: no daemon, no worker, no cgroup, no bus name.
check_all_gone() {
        check "cgwatch.service is inactive" sh -c "! systemctl is-active -q cgwatch.service"
        check "no cgwatchd process is left" sh -c "! pgrep -x cgwatchd >/dev/null"
        check "the service's cgroup is gone or empty" \
                sh -c "[ ! -e '$CGS/cgroup.procs' ] || [ -z \"\$(cat '$CGS/cgroup.procs')\" ]"
        check "no dyno cgroup is left" sh -c "[ ! -e '$CGS/dyno' ] && [ ! -e '$SCOPE' ]"
        check "the workers' scope is gone" sh -c "! systemctl is-active -q cgwatch-workers.scope"
        check "org.cgwatch1 left the bus" sh -c "! busctl --system list --no-legend | grep -q '^org.cgwatch1 '"
}

# The security exposure systemd computes for the installed unit (e.g. "9.6 UNSAFE").
security_score() {
        systemd-analyze security --no-pager "$1" 2>/dev/null | sed -n 's/^→ Overall exposure level for [^:]*: //p' |
                sed 's/\x1b\[[0-9;]*m//g' | awk '{print $1, $2}'
}

finish_install_test() {
        say "$PASSED passed, $FAILED failed"
        if [ "$FAILED" -gt 0 ]; then
                journalctl -u cgwatch --no-pager | tail -n 40
        fi
        [ "$FAILED" -eq 0 ]
}
