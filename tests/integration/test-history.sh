#!/bin/bash
# Memory over time (issue 11), under a real systemd with the real system bus: a leaker recycled
# for its budget a few times beside a steady worker, with [Dyno] SampleIntervalSec=1s. Proves:
# `cgwatchctl history` shows the samples and every recycle with its reason; --csv and --json
# carry the same records; --since cuts at the right place; an unprivileged user may read it;
# `plot` writes an SVG that parses as XML with one line per worker, dashed budgets and dyno limit
# and one marker per recycle with its reason; `metrics` is valid OpenMetrics (prometheus_client's
# parser) whose figures match the cgroup files and the worker's recycle count; and
# cgwatch-metrics.socket answers an HTTP scrape with the same text.
set -u
BUILD=${CGWATCH_BUILD:?}
SRC=${CGWATCH_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
. "$(dirname "$0")/assert.sh"
[ "$(cat /proc/1/comm)" = systemd ] || { say "SKIP: PID 1 is not systemd (run me with tests/vm/run --systemd)"; exit 77; }
PY=/usr/bin/python3 # Debian's, with python3-prometheus-client (tools/install-deps)
$PY -c 'import prometheus_client' 2>/dev/null || { say "FAIL - python3-prometheus-client is missing (tools/install-deps)"; exit 1; }

install -m 755 "$BUILD/cgwatchd" /usr/sbin/cgwatchd
install -m 755 "$BUILD/cgwatchctl" /usr/bin/cgwatchctl
install -m 644 "$SRC/units/cgwatch.service" /etc/systemd/system/cgwatch.service
install -m 644 "$SRC/units/cgwatch-metrics.socket" /etc/systemd/system/cgwatch-metrics.socket
install -m 644 "$SRC/units/cgwatch-metrics@.service" /etc/systemd/system/cgwatch-metrics@.service
install -m 644 "$SRC/units/org.cgwatch1.conf" /etc/dbus-1/system.d/org.cgwatch1.conf
mkdir -p /etc/cgwatch
cat >/etc/cgwatch/cgwatch.conf <<EOF
[Dyno]
MemoryLimit=256M
SampleIntervalSec=1s

[Worker leaker]
# 8 MB/s into a 24M budget: recycled every few seconds
ExecStart=$BUILD/tests/helpers/cgwatch-leaker --rate 8
MemoryBudget=24M

[Worker steady]
ExecStart=$BUILD/tests/helpers/cgwatch-leaker --steady 6
MemoryBudget=64M
EOF
busctl call org.freedesktop.DBus /org/freedesktop/DBus org.freedesktop.DBus ReloadConfig >/dev/null
systemctl daemon-reload
check "cgwatch.service starts" systemctl start cgwatch.service
CG=/sys/fs/cgroup/system.slice/cgwatch-workers.scope # the shipped unit: --workers-scope

recycles() { cgwatchctl show leaker | sed -n 's/^Recycles=//p'; }
check "the leaker is recycled 3 times (within 120 s)" wait_for 120 sh -c "[ \"\$(cgwatchctl show leaker | sed -n 's/^Recycles=//p')\" -ge 3 ]"
# Stop it so that its history and its counters hold still for the comparisons below.
check "stop the leaker" cgwatchctl stop leaker
wait_for 20 sh -c "cgwatchctl show leaker | grep -qx 'State=stopped'"
n=$(recycles)
say "the leaker was recycled $n times"

cgwatchctl history >/tmp/h.txt
say "$(grep -c . /tmp/h.txt) lines of history; the recycles:"
grep 'recycled' /tmp/h.txt | head -5
check "history shows each recycle with its reason" test "$(grep -c '^leaker .* recycled (budget)$' /tmp/h.txt)" = "$n"
check "history shows the steady worker's samples" test "$(grep -c '^steady ' /tmp/h.txt)" -ge 5
check "history shows the dyno's samples" test "$(grep -c '^@dyno ' /tmp/h.txt)" -ge 5

cgwatchctl history --json >/tmp/h.json
cgwatchctl history --csv >/tmp/h.csv
check "json and csv carry the same records (up to the later fetch's extra samples)" $PY - "$n" <<'EOF'
import csv, json, sys
n = int(sys.argv[1])
j = json.load(open("/tmp/h.json"))
rows = list(csv.DictReader(open("/tmp/h.csv")))
def num(v):
    return None if v in ("", None) else int(v)
recs = []
series = [(w["name"], w) for w in j["workers"]] + [("@dyno", j["dyno"])]
for name, s in series:
    for x in s["samples"]:
        recs.append((name, "sample", x["time_usec"], x["memory_current_bytes"], x["anon_bytes"], x["file_bytes"],
                     x["peak_bytes"], x["budget_bytes"], "", ""))
    for x in s["events"]:
        recs.append((name, "event", x["time_usec"], x["memory_bytes"], None, None, None, x["budget_bytes"],
                     x["event"], x["reason"] or ""))
cut = max(r[2] for r in recs)
fromcsv = [(r["worker"], r["record"], int(r["time_usec"]), num(r["memory_current_bytes"]), num(r["anon_bytes"]),
            num(r["file_bytes"]), num(r["peak_bytes"]), num(r["budget_bytes"]), r["event"], r["reason"])
           for r in rows if int(r["time_usec"]) <= cut]
assert sorted(recs, key=repr) == sorted(fromcsv, key=repr), (len(recs), len(fromcsv))
leak = [w for w in j["workers"] if w["name"] == "leaker"][0]
rec = [e for e in leak["events"] if e["event"] == "recycled"]
assert len(rec) == n and all(e["reason"] == "budget" for e in rec), rec
assert all(s["budget_bytes"] == 24 << 20 for s in leak["samples"]), "leaker budget"
assert all(s["budget_bytes"] == 256 << 20 for s in j["dyno"]["samples"]), "dyno limit"
# every recycle decided at or under 1.05x the budget, and a sample taken with it
for e in rec:
    assert e["memory_bytes"] <= (24 << 20) * 105 // 100, e
    assert any(s["time_usec"] == e["time_usec"] for s in leak["samples"]), e
t = [s["time_usec"] for s in leak["samples"]]
assert t == sorted(t), "samples in time order"
steady = [w for w in j["workers"] if w["name"] == "steady"][0]["samples"]
gaps = [b["time_usec"] - a["time_usec"] for a, b in zip(steady, steady[1:])]
# SampleIntervalSec=1s: no gap much longer than that (memory events add samples in between)
assert max(gaps) < 5_000_000, max(gaps)
print("records:", len(recs), "leaker samples:", len(leak["samples"]), "steady samples:", len(steady),
      "max steady gap (ms):", max(gaps) // 1000)
EOF

since=$($PY -c 'import json; j = json.load(open("/tmp/h.json")); l = [w for w in j["workers"] if w["name"] == "leaker"][0]; r = [e["time_usec"] for e in l["events"] if e["event"] == "recycled"]; print("@%d" % (r[1] // 1000000 + 1))')
cgwatchctl history leaker --since "$since" --json >/tmp/since.json
check "--since $since keeps only what came after" $PY - "$since" <<'EOF'
import json, sys
t = int(sys.argv[1][1:]) * 1000000
j = json.load(open("/tmp/since.json"))
full = [w for w in json.load(open("/tmp/h.json"))["workers"] if w["name"] == "leaker"][0]
w = j["workers"][0]
assert w["name"] == "leaker" and len(j["workers"]) == 1 and "dyno" not in j
assert all(s["time_usec"] >= t for s in w["samples"] + w["events"])
assert [e for e in full["events"] if e["time_usec"] >= t] == w["events"]
assert len([e for e in w["events"] if e["event"] == "recycled"]) == len([e for e in full["events"] if e["event"] == "recycled"]) - 2
EOF
nobody() { setpriv --reuid=65534 --regid=65534 --clear-groups "$@"; }
check "an unprivileged user may read the history" sh -c "setpriv --reuid=65534 --regid=65534 --clear-groups cgwatchctl history leaker --csv | grep -q ',event,.*,recycled,budget$'"
check "an unknown worker is an error" sh -c "! cgwatchctl history nosuch 2>/tmp/err && grep -q 'No worker' /tmp/err"

check "plot writes an SVG" cgwatchctl plot -o /tmp/plot.svg
check "the SVG: one line per worker, dashed budgets and dyno limit, a marker per recycle with its reason" $PY - "$n" <<'EOF'
import sys, xml.etree.ElementTree as ET
n = int(sys.argv[1])
ns = "{http://www.w3.org/2000/svg}"
r = ET.parse("/tmp/plot.svg").getroot()
assert r.tag == ns + "svg"
pl = {}
for p in r.iter(ns + "polyline"):
    pl.setdefault(p.get("class"), []).append(p)
assert sorted(p.get("data-worker") for p in pl["worker"]) == ["leaker", "steady"], pl["worker"]
assert sorted(p.get("data-worker") for p in pl["budget"]) == ["leaker", "steady"]
assert all(p.get("stroke-dasharray") for p in pl["budget"] + pl["dyno-limit"])
assert len(pl["dyno-limit"]) == 1 and len(pl["dyno"]) == 1
g = [e for e in r.iter(ns + "g") if e.get("class") == "recycle"]
assert len(g) == n and all(e.get("data-worker") == "leaker" for e in g), len(g)
assert [e.find(ns + "text").text for e in g] == ["budget"] * n
texts = [t.text for t in r.iter(ns + "text")]
assert "memory (MiB)" in texts and "time (UTC)" in texts
print("polylines:", {k: len(v) for k, v in pl.items()}, "recycle markers:", len(g))
EOF
check "plot of one worker" sh -c "cgwatchctl plot steady -o /tmp/steady.svg && [ \$(grep -c 'class=\"worker\"' /tmp/steady.svg) = 1 ]"

# OpenMetrics, against the cgroup files read right after.
cgwatchctl metrics >/tmp/m.txt
steady_cur=$(cat "$CG/dyno/steady/memory.current")
check "metrics is valid OpenMetrics and matches the cgroup files" $PY - "$n" "$steady_cur" "$(cat "$CG/dyno/memory.max")" <<'EOF'
import sys
from prometheus_client.openmetrics.parser import text_string_to_metric_families
n, steady_cur, dyno_max = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
text = open("/tmp/m.txt").read()
assert text.endswith("# EOF\n")
fam = {f.name: f for f in text_string_to_metric_families(text)}
v = {}
for f in fam.values():
    for s in f.samples:
        v[(s.name, tuple(sorted(s.labels.items())))] = s.value
assert v[("cgwatch_dyno_memory_limit_bytes", ())] == dyno_max == 256 << 20
assert v[("cgwatch_dyno_recycle_at_bytes", ())] == (256 << 20) * 9 // 10
assert v[("cgwatch_worker_memory_budget_bytes", (("worker", "leaker"),))] == 24 << 20
assert v[("cgwatch_worker_memory_budget_bytes", (("worker", "steady"),))] == 64 << 20
assert v[("cgwatch_worker_recycles_total", (("reason", "budget"), ("worker", "leaker")))] == n
assert v[("cgwatch_worker_recycles_total", (("reason", "pressure"), ("worker", "leaker")))] == 0
assert v[("cgwatch_worker_recycles_total", (("reason", "budget"), ("worker", "steady")))] == 0
assert v[("cgwatch_worker_state", (("cgwatch_worker_state", "stopped"), ("worker", "leaker")))] == 1
assert v[("cgwatch_worker_state", (("cgwatch_worker_state", "running"), ("worker", "steady")))] == 1
m = v[("cgwatch_worker_memory_bytes", (("worker", "steady"),))]
# a steady 6 MiB heap: the live figure and the file read a moment later agree within 2%
assert abs(m - steady_cur) <= steady_cur // 50, (m, steady_cur)
assert v[("cgwatch_worker_memory_bytes", (("worker", "leaker"),))] == 0
print("families:", len(fam), "steady memory:", m, "cgroup file:", steady_cur)
EOF

check "cgwatch-metrics.socket starts" systemctl start cgwatch-metrics.socket
check "a scrape over HTTP answers with OpenMetrics" sh -c "curl -sS -D /tmp/hdr -o /tmp/scrape.txt http://127.0.0.1:9817/metrics"
say "  $(head -n1 /tmp/hdr | tr -d '\r'); $(grep -i '^content-type' /tmp/hdr | tr -d '\r')"
check "  200, with the OpenMetrics content type" sh -c "head -n1 /tmp/hdr | grep -q ' 200 ' && grep -qi '^content-type: application/openmetrics-text; version=1.0.0; charset=utf-8' /tmp/hdr"
check "  and the same text as cgwatchctl metrics (but for the live memory figures)" bash -c "diff <(grep -v '_memory_bytes\\|_memory_peak_bytes' /tmp/m.txt) <(grep -v '_memory_bytes\\|_memory_peak_bytes' /tmp/scrape.txt)"
check "  it parses" $PY -c 'from prometheus_client.openmetrics.parser import text_string_to_metric_families as p; list(p(open("/tmp/scrape.txt").read()))'
check "another path is 404" sh -c "curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:9817/nope | grep -qx 404"

check "systemctl stop" systemctl stop cgwatch.service
say "$PASSED passed, $FAILED failed"
if [ "$FAILED" -gt 0 ]; then
        journalctl -u cgwatch -u 'cgwatch-metrics@*' --no-pager | tail -n 60
fi
[ "$FAILED" -eq 0 ]
