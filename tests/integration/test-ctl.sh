#!/bin/bash
# cgwatchctl against cgwatch.service under a real systemd and system bus: list; the JSON of
# status, show and top checked against the cgroup files; the exit statuses; events following a
# recycle, state and budget changes; top in tmux (every worker, its bar, the dyno line, updated
# after a set-budget, sort keys, q), its batch and JSON frames; the bash completion's names.
set -u
BUILD=${CGWATCH_BUILD:?}
SRC=${CGWATCH_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
. "$(dirname "$0")/assert.sh"
. "$(dirname "$0")/ctl-lib.sh"
[ "$(cat /proc/1/comm)" = systemd ] || { say "SKIP: PID 1 is not systemd (run me with run-in-vm --systemd)"; exit 77; }
command -v tmux >/dev/null || { say "SKIP: tmux is not installed (tools/install-deps)"; exit 77; }

ctl_install
cat >/etc/cgwatch/cgwatch.conf <<CONF
[Dyno]
MemoryLimit=512M
# Samples feed the growth rates (and TimeToBudget) that top shows.
SampleIntervalSec=2s

[Worker http]
ExecStart=/bin/sleep 1000
MemoryBudget=64M

[Worker queuer]
ExecStart=$LEAKER --steady 4
Instances=2
MemoryBudget=32M

[Worker grower]
ExecStart=$LEAKER --rate 0.25
MemoryBudget=128M
CONF
check "cgwatch.service starts" systemctl start cgwatch.service
all_running() { [ "$(cgwatchctl list | cut -f2 | grep -c '^running$')" = 4 ]; }
check "every worker is running" within 120 all_running

mark "service started"
# list: one worker per line, tab-separated, for scripts.
check "list names every worker, one per line" test "$(cgwatchctl list | cut -f1 | sort | tr '\n' ' ')" = "grower http queuer@1 queuer@2 "
check "list's fields: name, state, pid, memory, budget, recycles" sh -c "cgwatchctl list | grep -Eq '^http	running	[1-9][0-9]*	[0-9]+	67108864	0$'"

# The JSON outputs, against the kernel's files.
cat >/tmp/json-check.py <<'PY'
import json, subprocess, sys
CG = "/sys/fs/cgroup"
def ctl(*a): return json.loads(subprocess.check_output(["cgwatchctl", "--json", *a]))
def close(a, b): return abs(a - b) <= max(a // 4, 2 << 20)  # live values: within 25% or 2 MiB
budgets = {"http": 64 << 20, "queuer@1": 32 << 20, "queuer@2": 32 << 20, "grower": 128 << 20}
st = ctl("status")
assert st["dyno_memory_limit"] == 512 << 20, st
dyno = int(open(CG + "/system.slice/cgwatch-workers.scope/dyno/memory.current").read())
assert close(st["dyno_memory_current"], dyno), (st["dyno_memory_current"], dyno)
assert sorted(w["name"] for w in st["workers"]) == sorted(budgets), st["workers"]
for w in st["workers"]:
    p = ctl("show", w["name"])
    cg = CG + "/" + p["ControlGroup"].lstrip("/")
    assert cg.endswith("/system.slice/cgwatch-workers.scope/dyno/" + w["name"]), cg
    assert str(w["pid"]) in open(cg + "/cgroup.procs").read().split(), (w, cg)
    assert w["memory_budget"] == p["MemoryBudget"] == budgets[w["name"]], (w, p)
    assert int(open(cg + "/memory.high").read()) == p["MemoryBudget"] - p["MemoryBudget"] // 32
    assert close(p["MemoryCurrent"], int(open(cg + "/memory.current").read())), p
    stat = dict(l.split() for l in open(cg + "/memory.stat"))
    assert close(p["MemoryAnon"], int(stat["anon"])) and close(p["MemoryFile"], int(stat["file"])), (p, stat)
    assert p["State"] == w["state"] == "running" and p["MainPID"] == w["pid"], (p, w)
lst = ctl("list")
assert [x["name"] for x in lst] == [x["name"] for x in st["workers"]]
one = ctl("status", "queuer@1")
assert one["Name"] == "queuer@1" and one["MemoryBudget"] == 32 << 20
frame = json.loads(subprocess.check_output(["cgwatchctl", "--json", "top"]).decode().strip())
assert frame["dyno"]["DynoMemoryLimit"] == 512 << 20 and "DynoPressureSomeAvg10" in frame["dyno"]
assert frame["dyno"]["Headroom"] == frame["dyno"]["DynoMemoryLimit"] - frame["dyno"]["DynoMemoryCurrent"]
assert sorted(w["Name"] for w in frame["workers"]) == sorted(budgets)
print("json-check: %d workers checked against their cgroup files" % len(st["workers"]))
PY
# Live values move (the leakers are still settling on a slow VM): retry until one pass agrees.
check "status/show/list/top --json agree with the cgroup files" within 180 python3 /tmp/json-check.py
python3 /tmp/json-check.py 2>&1 | tail -n 3

mark "json checked"
# Exit statuses (cgwatchctl(1) EXIT STATUS).
expect_exit 0 "status WORKER of a running worker" cgwatchctl status http
check "  prints its state and PID" sh -c "cgwatchctl status http | grep -Eq '^http - running \(PID [0-9]+\)'"
expect_exit 4 "status of no such worker" cgwatchctl status nosuch
expect_exit 4 "recycle of no such worker" cgwatchctl recycle nosuch
expect_exit 64 "an unknown command" cgwatchctl frobnicate
expect_exit 64 "a missing argument" cgwatchctl show
expect_exit 64 "a size that does not parse" cgwatchctl set-budget http lots
expect_exit 69 "a dyno nobody runs" cgwatchctl --dyno nosuch status
expect_exit 77 "a write by an unprivileged user" nobody cgwatchctl stop http
check "stop queuer@1" cgwatchctl stop queuer@1
check "  it stops" within 120 sh -c "cgwatchctl show queuer@1 | grep -qx State=stopped"
expect_exit 3 "status WORKER of a stopped worker" cgwatchctl status queuer@1
check "start queuer@1" cgwatchctl start queuer@1
check "  it runs again" within 120 sh -c "cgwatchctl show queuer@1 | grep -qx State=running"

mark "exit statuses checked"
# events: a recycle, the state changes it causes, a budget change.
cgwatchctl events >/tmp/ev.txt 2>/tmp/ev.err &
ev=$!
cgwatchctl --json events >/tmp/evj.txt 2>/tmp/evj.err &
evj=$!
check "events subscribed" within 120 sh -c "grep -q '^Following the events of org.cgwatch1' /tmp/ev.err && grep -q '^Following' /tmp/evj.err"
check "recycle queuer@2" cgwatchctl recycle queuer@2
check "set-budget http 80M --runtime" cgwatchctl set-budget http 80M --runtime
check "events prints the recycle" within 120 grep -Eq ' queuer@2 recycled reason=manual memory=[0-9.]+[KM] budget=32M$' /tmp/ev.txt
check "  and the state changes back to running" within 120 grep -Eq ' queuer@2 state running pid=[1-9][0-9]*$' /tmp/ev.txt
check "  and the budget change" within 120 grep -q ' http budget 80M$' /tmp/ev.txt
check "events --json: the same, as JSON lines" within 120 python3 -c '
import json, sys
ev = [json.loads(l) for l in open("/tmp/evj.txt")]
r = [e for e in ev if e["event"] == "recycled"]
assert len(r) == 1 and r[0]["worker"] == "queuer@2" and r[0]["reason"] == "manual", r
assert r[0]["budget_bytes"] == 32 << 20 and r[0]["memory_bytes"] > 0 and "time" in r[0]
assert any(e["event"] == "budget" and e["worker"] == "http" and e["budget_bytes"] == 80 << 20 for e in ev)
assert any(e["event"] == "state" and e["worker"] == "queuer@2" and e["state"] == "running" for e in ev)
'
say "events: $(tr '\n' '|' </tmp/ev.txt)"
kill -INT $ev $evj
wait $ev
check "events ends with status 0 when interrupted" test $? = 0
wait $evj

mark "events checked"
# top, in a terminal (tmux), read back with capture-pane.
export TERM=xterm-256color
tmux new-session -d -s top -x 160 -y 40 "cgwatchctl top -d 1"
screen() { tmux capture-pane -p -t top; }
row() { screen | grep -Eq "^$1 +running +[0-9]+ +\[[#.]{10}\] +[0-9]+% +[0-9.]+[BKMG] +$2 "; }
check "top shows the dyno line" within 120 sh -c "tmux capture-pane -p -t top | grep -Eq '^Dyno: limit 512M, current [0-9.]+[KMG], peak [0-9.]+[KMG], headroom [0-9.]+[KMG], recycle at [0-9.]+[KMG]; PSI some [0-9.]+ full [0-9.]+'"
for w in http queuer@1 queuer@2 grower; do
        check "top shows $w with its memory bar" within 120 sh -c "tmux capture-pane -p -t top | grep -Eq '^$w +running +[0-9]+ +\[[#.]{10}\] +[0-9]+% '"
done
check "top shows http's budget" within 120 row http 80M
# grower leaks 256 KiB/s: a positive rate and a finite time to its 128M budget.
check "top shows grower's growth rate and time to budget" within 120 sh -c "tmux capture-pane -p -t top | grep -Eq '^grower .* \+[0-9.]+[BKM]/s +[0-9]+(min|s|h)'"
# The bar is the percentage in tenths: as many # as whole tens of percent.
bars_match() {
        screen | awk '$4 ~ /^\[[#.]+\]$/ { n = gsub(/#/, "#", $4); p = $5; sub(/%/, "", p); if (n != int(p / 10) && !(p >= 100 && n == 10)) bad = 1; rows++ }
                END { exit !(rows == 4 && !bad) }'
}
check "every bar has as many # as tens of percent" within 30 bars_match
say "top, captured:"
screen | sed 's/^/  | /'
check "set-budget http 100M --runtime" cgwatchctl set-budget http 100M --runtime
check "top shows the new budget" within 120 row http 100M
tmux send-keys -t top n
check "key n sorts by name" within 120 sh -c "tmux capture-pane -p -t top | grep -q 'sorted by name'"
check "  rows in name order" sh -c "tmux capture-pane -p -t top | grep -Eo '^(grower|http|queuer@[12]) ' | tr -d ' ' | tr '\n' ' ' | grep -qx 'grower http queuer@1 queuer@2 '"
tmux send-keys -t top n
check "key n again reverses the order" within 120 sh -c "tmux capture-pane -p -t top | grep -q 'sorted by name, reversed'"
check "  rows in reverse name order" sh -c "tmux capture-pane -p -t top | grep -Eo '^(grower|http|queuer@[12]) ' | tr -d ' ' | tr '\n' ' ' | grep -qx 'queuer@2 queuer@1 http grower '"
# The rows of one frame in the order of a column: $1 its first character and $2 its width (TTB
# and AGE hold spaces, so fields do not count), $3 "desc" or "asc"; sizes (4.2M, 208K) are
# compared in bytes.
column_sorted() {
        screen | awk -v at="$1" -v width="$2" -v dir="$3" '
                function bytes(s,  n, u) { n = s + 0; u = substr(s, length(s)); return n * (u == "G" ? 2^30 : u == "M" ? 2^20 : u == "K" ? 2^10 : 1) }
                $4 ~ /^\[[#.]+\]$/ { c = substr($0, at, width); gsub(/ /, "", c); v = bytes(c); if (rows++ && (dir == "desc" ? v > last : v < last)) bad = 1; last = v }
                END { exit !(rows == 4 && !bad) }'
}
tmux send-keys -t top m
check "key m sorts by memory" within 120 sh -c "tmux capture-pane -p -t top | grep -q 'sorted by memory\$'"
check "  rows by memory used, largest first" within 30 column_sorted 53 7 desc
check "  the 256 KiB/s grower first, the sleeping http last" within 120 sh -c "tmux capture-pane -p -t top | grep -Eo '^(grower|http|queuer@[12]) ' | tr -d ' ' | tr '\n' ' ' | grep -Eqx 'grower queuer@[12] queuer@[12] http '"
say "top, sorted by memory (the README's screen):"
screen | sed 's/^/  | /'
tmux send-keys -t top m
check "key m again: smallest first" within 120 sh -c "tmux capture-pane -p -t top | grep -q 'sorted by memory, reversed'"
check "  rows by memory used, smallest first" within 30 column_sorted 53 7 asc
# queuer@2 is the only worker recycled (by hand, in the events checks above).
tmux send-keys -t top r
check "key r sorts by recycles" within 120 sh -c "tmux capture-pane -p -t top | grep -q 'sorted by recycles\$'"
check "  the recycled queuer@2 first" sh -c "tmux capture-pane -p -t top | grep -E '^(grower|http|queuer@[12]) ' | head -n1 | grep -Eq '^queuer@2 .* 1 manual '"
check "  rows by recycles, most first" column_sorted 106 5 desc
tmux send-keys -t top q
check "key q quits" within 120 sh -c "! tmux has-session -t top 2>/dev/null"
tmux kill-server 2>/dev/null

mark "top in tmux checked"
# Without a terminal: one frame; batch mode: -n frames.
check "top without a terminal prints one frame and exits" test "$(cgwatchctl top </dev/null | grep -c '^Dyno:')" = 1
check "top -b -n 2 prints two frames" test "$(cgwatchctl top -b -n 2 -d 0.2 | grep -c '^Dyno:')" = 2
expect_exit 64 "top -d with a bad delay" cgwatchctl top -d soon

# The bash completion: commands from --help, worker names from list.
complete_words() { bash -c 'source /usr/share/bash-completion/completions/cgwatchctl; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); _cgwatchctl; echo "${COMPREPLY[*]}"' _ "$@"; }
check "completion: worker names" test "$(complete_words cgwatchctl show q)" = "queuer@1 queuer@2"
check "completion: commands" test "$(complete_words cgwatchctl re)" = "recycle restart reload"

ctl_finish
