#!/bin/bash
# The installed shape, under a real systemd as PID 1 with the real system bus: cgwatch.service
# (Type=notify, Delegate=yes) with the D-Bus policy; the Manager and Worker objects through
# busctl and cgwatchctl; writes refused to an unprivileged caller; WorkerRecycled signals; the
# recycle's structured journal entry; reload and stop through systemctl.
. "$(dirname "$0")/lib-systemd.sh"
install_cgwatch
cat >/etc/cgwatch/cgwatch.conf <<EOF
[Dyno]
MemoryLimit=512M

[Supervisor dam]
MemoryBudget=300M

[Worker http]
ExecStart=/bin/sleep 1000
MemoryBudget=64M

[Worker queuer]
ExecStart=$BUILD/tests/helpers/cgwatch-leaker --steady 4
Supervisor=dam
Instances=2
MemoryBudget=32M
EOF
busctl call org.freedesktop.DBus /org/freedesktop/DBus org.freedesktop.DBus ReloadConfig >/dev/null; sleep 0.5
systemctl daemon-reload

t0=$(date +%s%N)
check "cgwatch.service starts (Type=notify: READY=1 reached systemd)" systemctl start cgwatch.service
say "systemctl start took $((($(date +%s%N) - t0) / 1000000)) ms"
check "the service is active" systemctl is-active -q cgwatch.service
status=$(systemctl show -p StatusText --value cgwatch.service)
say "StatusText: $status"
check "STATUS= reaches systemd" sh -c "echo '$status' | grep -q 'workers running'"
SVC=/sys/fs/cgroup/system.slice/cgwatch.service
CGS=/sys/fs/cgroup/system.slice/cgwatch-workers.scope
check "--workers-scope: the dyno lives in the workers' scope" test -d "$CGS/dyno/dam/queuer@1"
check "  the scope's anchor is in its own leaf" sh -c "[ \"\$(wc -l <'$CGS/anchor/cgroup.procs')\" = 1 ]"
check "  the daemon stays alone in the service's cgroup" sh -c "[ \"\$(cat '$SVC/cgroup.procs')\" = \"\$(systemctl show -p MainPID --value cgwatch.service)\" ]"

wait_for 10 sh -c "busctl --system list | grep -q org.cgwatch1"
check "org.cgwatch1 is on the system bus" sh -c "busctl --system list | grep -q org.cgwatch1"
out=$(busctl --system call org.cgwatch1 /org/cgwatch1 org.cgwatch1.Manager ListWorkers)
say "ListWorkers: $out"
check "ListWorkers returns the three workers" sh -c "echo '$out' | grep -q '^a(ssuttto) 3 '"
check "ListWorkers carries state, budget and object path" sh -c "echo '$out' | grep -q '\"http\" \"running\" [0-9]* [0-9]* 67108864 0 \"/org/cgwatch1/worker/http\"'"
check "Version property" sh -c "busctl --system get-property org.cgwatch1 /org/cgwatch1 org.cgwatch1.Manager Version | grep -q '^s \"'"
check "DynoMemoryLimit property" sh -c "busctl --system get-property org.cgwatch1 /org/cgwatch1 org.cgwatch1.Manager DynoMemoryLimit | grep -qx 't 536870912'"
path=$(busctl --system call org.cgwatch1 /org/cgwatch1 org.cgwatch1.Manager GetWorker s queuer@1 | cut -d'"' -f2)
say "GetWorker queuer@1 -> $path"
check "GetWorker encodes the name with sd_bus_path_encode" test "$path" = /org/cgwatch1/worker/queuer_401
check "Worker State property" sh -c "busctl --system get-property org.cgwatch1 '$path' org.cgwatch1.Worker State | grep -qx 's \"running\"'"
check "Worker ControlGroup property" sh -c "busctl --system get-property org.cgwatch1 '$path' org.cgwatch1.Worker ControlGroup | grep -q 'dyno/dam/queuer@1'"
check "Worker MemoryCurrent is read live (> 4 MiB for a 4 MiB heap)" sh -c "[ \$(busctl --system get-property org.cgwatch1 '$path' org.cgwatch1.Worker MemoryCurrent | cut -d' ' -f2) -gt 4000000 ]"
check "cgwatchctl status lists the workers" sh -c "cgwatchctl status | grep -q 'queuer@2 *running'"
check "cgwatchctl status --json is JSON with the workers" sh -c "cgwatchctl --json status | python3 -c 'import json,sys; d=json.load(sys.stdin); assert len(d[\"workers\"]) == 3'"
check "cgwatchctl show" sh -c "cgwatchctl show http | grep -qx 'State=running'"

# Reads are open to everyone; writes need root, in the policy and in the daemon.
nobody() { setpriv --reuid=65534 --regid=65534 --clear-groups "$@"; }
check "an unprivileged user may read (status)" nobody cgwatchctl status
check "an unprivileged user may not stop a worker" sh -c "! setpriv --reuid=65534 --regid=65534 --clear-groups cgwatchctl stop http 2>/tmp/denied"
say "  refused with: $(cat /tmp/denied)"
check "the bus policy refuses it" grep -q "Rejected send message" /tmp/denied
# The daemon checks the caller's uid itself too: with a policy loosened by mistake, still refused.
cat >/etc/dbus-1/system.d/zz-cgwatch-test-loose.conf <<EOF
<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-BUS Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig><policy user="nobody"><allow send_destination="org.cgwatch1"/></policy></busconfig>
EOF
busctl call org.freedesktop.DBus /org/freedesktop/DBus org.freedesktop.DBus ReloadConfig >/dev/null; sleep 0.5
check "with a loose policy the daemon itself refuses" sh -c "! setpriv --reuid=65534 --regid=65534 --clear-groups cgwatchctl stop http 2>/tmp/denied2"
say "  refused with: $(cat /tmp/denied2)"
check "  saying only root may change state" grep -q "Only root may change" /tmp/denied2
rm /etc/dbus-1/system.d/zz-cgwatch-test-loose.conf
busctl call org.freedesktop.DBus /org/freedesktop/DBus org.freedesktop.DBus ReloadConfig >/dev/null; sleep 0.5
check "http still runs after the refused stop" sh -c "cgwatchctl show http | grep -qx 'State=running'"

# SetBudget: at once, and persisted unless runtime.
check "SetBudget runtime=true" busctl --system call org.cgwatch1 /org/cgwatch1 org.cgwatch1.Manager SetBudget stb http 100663296 true
# memory.high is the tripwire below the budget: budget - budget/32 while nothing is learned.
check "  memory.high changed at once" test "$(cat "$CGS/dyno/http/memory.high")" = $((100663296 - 100663296 / 32))
check "  and nothing was persisted" test ! -e /etc/cgwatch/cgwatch.conf.d/50-budget-http.conf
check "cgwatchctl set-budget (persistent)" cgwatchctl set-budget http 80M
check "  memory.high changed at once" test "$(cat "$CGS/dyno/http/memory.high")" = $((83886080 - 83886080 / 32))
check "  and a drop-in was written" grep -qx "MemoryBudget=83886080" /etc/cgwatch/cgwatch.conf.d/50-budget-http.conf

# A manual recycle: the signal, the properties, the journal entry.
busctl --system monitor org.cgwatch1 >/tmp/monitor.txt 2>&1 &
mon=$!
sleep 1
old=$(systemctl show -p MainPID --value cgwatch.service)
check "cgwatchctl recycle" cgwatchctl recycle queuer@2
wait_for 10 sh -c "cgwatchctl show queuer@2 | grep -qx 'State=running'"
sleep 1
kill $mon 2>/dev/null
check "WorkerRecycled was signalled" grep -q "Member=WorkerRecycled" /tmp/monitor.txt
check "PropertiesChanged was emitted for the worker" sh -c "grep -A3 'Member=PropertiesChanged' /tmp/monitor.txt | grep -q 'queuer_402'"
check "Recycles and LastRecycleReason updated" sh -c "cgwatchctl show queuer@2 | grep -qx 'Recycles=1' && cgwatchctl show queuer@2 | grep -qx 'LastRecycleReason=manual'"
journalctl --sync
entry=$(journalctl -o json MESSAGE_ID=97009755ed7a4d278c1470ac79afd92a --no-pager | tail -n1)
say "journal: $(echo "$entry" | python3 -c 'import json,sys; d=json.loads(sys.stdin.read()); print({k: d[k] for k in d if k.startswith("CGWATCH_")})')"
check "the recycle is in the journal with MESSAGE_ID and fields" sh -c "echo '$entry' | grep -q '\"CGWATCH_WORKER\":\"queuer@2\"' && echo '$entry' | grep -q '\"CGWATCH_REASON\":\"manual\"'"
check "the catalog explains it" sh -c "journalctl -x MESSAGE_ID=97009755ed7a4d278c1470ac79afd92a --no-pager | grep -q 'cgwatchd recycled worker'"
check "worker output reaches the journal under its name" sh -c "journalctl -t queuer@1 --no-pager | grep -q 'leaker: start'"

# Reload and stop through systemd.
check "systemctl reload" systemctl reload cgwatch.service
wait_for 10 sh -c "journalctl -u cgwatch --no-pager | grep -q 'Configuration reloaded'"
check "the reload took effect (drop-in budget kept)" test "$(cat "$CGS/dyno/http/memory.high")" = $((83886080 - 83886080 / 32))
check "the daemon was not restarted by the reload" test "$(systemctl show -p MainPID --value cgwatch.service)" = "$old"
check "systemctl stop" systemctl stop cgwatch.service
check "no process is left in the service's cgroup" sh -c "[ ! -e '$SVC/cgroup.procs' ] || [ -z \"\$(cat '$SVC/cgroup.procs')\" ]"
check "no dyno cgroup is left, the scope is gone" test ! -e "$CGS"
say "$PASSED passed, $FAILED failed"
if [ "$FAILED" -gt 0 ]; then
        journalctl -u cgwatch --no-pager | tail -n 60
fi
[ "$FAILED" -eq 0 ]
