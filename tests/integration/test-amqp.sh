#!/bin/bash
# The AMQP sink in the daemon, on a real kernel, with a real RabbitMQ on the host's loopback (the
# fixture of run-with-broker, reached through the VM's only forward): every message arrives with
# its routing key cgwatch.<host>.<dyno>.<worker>.<event>, the CloudEvents schema, persistent events and transient samples; one sample of each worker per
# SampleIntervalSec; the password stays out of argv, environment, log, --check-config and D-Bus.
# The broker is killed mid-stream (SIGKILL) and restarted: the leaker is still recycled during the outage,
# as fast as with the broker up (both measured in this run and printed), samples are dropped
# before events, what was dropped is counted exactly (missing ids == AmqpDroppedSamples +
# AmqpDroppedEvents on D-Bus == the journal's reconnect line), and the events after the reconnect
# arrive. D-Bus is a private dbus-daemon (plain mode has no system bus).
. "$(dirname "$0")/lib.sh"

PEEK=$BUILD/tests/amqp-peek
[ -x "$PEEK" ] || { say "SKIP: $PEEK not built"; exit 77; }
# The broker is the host's fixture (under TCG a broker in the guest took about 20 minutes to
# start, twice here): run-with-broker --user cgwatch gives its address, the user's password and
# a control port whose "kill" and "start" make it flap.
if [ -z "${CGWATCH_DEMO_BROKER:-}" ] || [ -z "${CGWATCH_BROKER_CONTROL:-}" ] || [ -z "${CGWATCH_BROKER_PASSWORD:-}" ]; then
        say "SKIP: no broker (run me through tests/integration/run-with-broker --user cgwatch)"
        exit 77
fi
BROKER=$CGWATCH_DEMO_BROKER
PW=$CGWATCH_BROKER_PASSWORD
# The daemon reads it from a file, not from its environment.
unset CGWATCH_BROKER_PASSWORD
broker_control() { # kill | start: the answer ("ok ...") on stdout, status 0 for ok
        local answer
        exec 7<>"/dev/tcp/${CGWATCH_BROKER_CONTROL%:*}/${CGWATCH_BROKER_CONTROL#*:}" || return 1
        printf '%s\n' "$1" >&7
        read -r -t 400 answer <&7
        exec 7>&-
        echo "$answer"
        [ "${answer%% *}" = ok ]
}
printf '%s\n' "$PW" >"$WORK/amqp.pw"
chmod 600 "$WORK/amqp.pw"

BUS_PID= CONSUMER_PID=
cleanup() {
        [ -n "$DAEMON_PID" ] && kill -TERM "$DAEMON_PID" 2>/dev/null && wait "$DAEMON_PID" 2>/dev/null
        DAEMON_PID=
        [ -n "$CONSUMER_PID" ] && kill "$CONSUMER_PID" 2>/dev/null
        [ -n "$BUS_PID" ] && kill "$BUS_PID" 2>/dev/null
}
trap cleanup EXIT

ADMIN="amqp://cgwatch:$PW@$BROKER/"
"$PEEK" setup "$ADMIN" cgwatch q 'cgwatch.#' || { not_ok "queue set up"; finish; }

# The consumer: basic.consume, no-ack, one line per message; started again after the outage.
MSGS=$WORK/messages.tsv
: >"$MSGS"
(while [ ! -e "$WORK/stop-consumer" ]; do
        "$PEEK" consume "$ADMIN" q >>"$MSGS" 2>/dev/null
        sleep 0.2
done) &
CONSUMER_PID=$!

dbus-daemon --session --address="unix:path=$WORK/bus" --nofork --nopidfile >/dev/null 2>&1 &
BUS_PID=$!
export DBUS_SYSTEM_BUS_ADDRESS="unix:path=$WORK/bus"
wait_for 30 test -S "$WORK/bus" || { not_ok "private bus up"; finish; }
prop() { busctl --address="$DBUS_SYSTEM_BUS_ADDRESS" get-property org.cgwatch1 /org/cgwatch1 org.cgwatch1.Manager "$1" 2>/dev/null | cut -d' ' -f2; }
# For wait_for, which re-runs a command but does not re-expand its arguments:
prop_is() { test "$(prop "$1")" "$2" "$3"; }
recycles_are() { test "$(recycles)" "$1" "$2"; }
samples_are() { test "$(samples)" "$1" "$2"; }

# The dyno "fleet-a" (the config file's name); Host= with a dot, escaped in routing keys.
CONF=$WORK/fleet-a.conf
write_conf <<EOF
[Dyno]
MemoryLimit=512M

[Worker leaky]
# 4 MB/s into a 40M budget: a budget recycle about every 8 s
ExecStart=$LEAKER --rate 4
MemoryBudget=40M

[Worker steady]
# READY=1 awaited (ReplaceFirst=yes): the stream has "ready" events too
ExecStart=$LEAKER --steady 8 --notify
ReplaceFirst=yes
MemoryBudget=64M
Instances=3

[AMQP]
URL=amqp://cgwatch@$BROKER/
Exchange=cgwatch
Host=vm-a.test
SampleIntervalSec=1s
OutboxSize=60
PasswordFile=$WORK/amqp.pw
EOF
KEY=cgwatch.vm-a_test.fleet-a

"$CGWATCHD" -c "$CONF" --check-config >"$WORK/check.out" 2>&1
check "--check-config shows the [AMQP] settings" grep -q "amqp: amqp://cgwatch@$BROKER/ exchange cgwatch, host vm-a.test, samples every 1s, outbox 60, password from file" "$WORK/check.out"

"$CGWATCHD" -c "$CONF" --cgroup-root "$CG/$BASE" >"$LOG" 2>&1 &
DAEMON_PID=$!
wait_for 120 prop_is AmqpConnected = true || { not_ok "the daemon connected to the broker"; finish; }
ok "the daemon connected (AmqpConnected=true)"
check "the journal says so, once" test "$(log_count "AMQP: connected to amqp://cgwatch@$BROKER/")" = 1
not_in_proc() { ! cat "/proc/$DAEMON_PID/cmdline" "/proc/$DAEMON_PID/environ" | tr '\0' '\n' | grep -qF -- "$PW"; }
check "the password is not in the daemon's argv or environment" not_in_proc
check "no warning that streaming is not implemented" test "$(log_count 'does not stream')" = 0

samples() { grep -c "\.sample	1	" "$MSGS" || true; }
recycles() { grep -c "Recycling worker leaky " "$LOG" || true; }

# Broker up: two recycles.
wait_for 180 recycles_are -ge 2 || { not_ok "leaky recycled twice with the broker up"; finish; }
# Kill the broker right after a round of samples has arrived: a transient sample sitting in the
# broker's queue would die with it, confirmed, and spoil the count (samples are transient by
# design); the next round is a second away.
n=$(samples)
wait_for 30 samples_are -gt "$n"
sleep 0.1
up_lines=$(wc -l <"$LOG")
up_recycles=$(recycles)
t_kill=$(now_ms)
broker_control kill >/dev/null || { not_ok "the broker was killed"; finish; }
say "broker killed after $up_recycles recycles"
wait_for 60 prop_is AmqpConnected = false || not_ok "AmqpConnected went false"

# Broker down: the leaker is recycled on schedule, the outbox (60) overflows with samples (4 per
# second), the events stay.
wait_for 120 recycles_are -ge $((up_recycles + 2)) || not_ok "leaky recycled twice during the outage"
wait_for 60 prop_is AmqpDroppedSamples -gt 0 || not_ok "the outbox dropped samples"
down_recycles=$(($(recycles) - up_recycles))
started=$(broker_control start) || { not_ok "the broker restarted ($started)"; finish; }
t_back=$(now_ms)
say "broker restarted in ${started#ok } s; outage $(((t_back - t_kill) / 1000)) s, $down_recycles recycles during it"
wait_for 120 prop_is AmqpConnected = true || { not_ok "the daemon reconnected"; finish; }
ok "the daemon reconnected"
down_lines=$(wc -l <"$LOG")
# One more recycle after the reconnect: its events must arrive.
after=$(recycles)
wait_for 120 recycles_are -gt "$after" || not_ok "leaky recycled after the reconnect"
sleep 2

for p in AmqpDroppedEvents AmqpDroppedSamples AmqpReturned AmqpNacked AmqpReconnects AmqpPublished AmqpConfirmed; do
        eval "bus_$p=\$(prop $p)"
done
say "D-Bus: published $bus_AmqpPublished confirmed $bus_AmqpConfirmed dropped events $bus_AmqpDroppedEvents samples $bus_AmqpDroppedSamples returned $bus_AmqpReturned nacked $bus_AmqpNacked reconnects $bus_AmqpReconnects"
check "no event was dropped (samples go first)" test "$bus_AmqpDroppedEvents" = 0
check "nothing returned (the queue was bound first) or nacked" test "$bus_AmqpReturned/$bus_AmqpNacked" = 0/0
check "one reconnect" test "$bus_AmqpReconnects" = 1
busctl --address="$DBUS_SYSTEM_BUS_ADDRESS" introspect org.cgwatch1 /org/cgwatch1 org.cgwatch1.Manager >"$WORK/introspect.out" 2>&1
check "D-Bus shows the AMQP properties" grep -q AmqpDroppedSamples "$WORK/introspect.out"

check "the journal says 'lost' once for the outage" test "$(log_count "AMQP: amqp://cgwatch@$BROKER/ lost")" = 1
check "the journal logs the first drop once" test "$(log_count 'AMQP: the outbox is full')" = 1
check "the journal says 'reconnected' once" test "$(log_count 'AMQP: reconnected')" = 1
reconnect_line=$(grep 'AMQP: reconnected' "$LOG")
say "journal: ${reconnect_line#*: }"
check "the reconnect line counts the outage's drops as D-Bus does" grep -q "; 0 events and $bus_AmqpDroppedSamples samples were dropped during the outage" <<<"$reconnect_line"

# (The fleet view of several daemons is test-fleet.sh's.)
# Read while the dyno's node exists: the daemon removes it when it stops.
check "zero OOM kills" test "$(oom_kills)" = 0
kill -TERM "$DAEMON_PID"
wait "$DAEMON_PID"
check "cgwatchd stopped cleanly" test $? = 0
DAEMON_PID=
stopped_line=$(grep 'AMQP: stopped' "$LOG")
say "journal: ${stopped_line#*: }"
check "the stop line has the same drops" grep -q " 0 events and $bus_AmqpDroppedSamples samples dropped" <<<"$stopped_line"

# Let the consumer take the last messages, then stop it.
wait_for 30 sh -c "s=\$(wc -l <'$MSGS'); sleep 1; test \"\$(wc -l <'$MSGS')\" = \"\$s\""
touch "$WORK/stop-consumer"
kill "$CONSUMER_PID" 2>/dev/null
wait "$CONSUMER_PID" 2>/dev/null
CONSUMER_PID=

# The secret.
check "the password is not in the daemon's log" test "$(grep -c -F "$PW" "$LOG")" = 0
check "the password is not in --check-config" test "$(grep -c -F "$PW" "$WORK/check.out")" = 0
check "the password is not on D-Bus" test "$(grep -c -F "$PW" "$WORK/introspect.out")" = 0

# Latency: the detection-to-signal latency of each leaky recycle, broker up against broker down,
# and its lifetime (start to recycle) in both phases.
phase_stats() { # FIRST_LINE LAST_LINE -> "n p50_us max_us lifetime_p50_ms"
        sed -n "$1,$2p" "$LOG" | awk '
                function ts(   t) { t = $0; sub(/^\[ */, "", t); sub(/\].*/, "", t); return t + 0 }
                /: Worker leaky started/ { start = ts() }
                /Recycling worker leaky / {
                        for (i = 1; i <= NF; i++) if ($i ~ /^latency_usec=/) { split($i, kv, "="); lat[++n] = kv[2] }
                        if (start != "") life[++m] = (ts() - start) * 1000
                }
                function sort(a, k,   i, j, t) { for (i = 2; i <= k; i++) for (j = i; j > 1 && a[j-1] > a[j]; j--) { t = a[j]; a[j] = a[j-1]; a[j-1] = t } }
                END { sort(lat, n); sort(life, m); printf "%d %d %d %d\n", n, lat[int((n + 1) / 2)], lat[n], life[int((m + 1) / 2)] }'
}
read -r un up50 upmax uplife <<<"$(phase_stats 1 "$up_lines")"
read -r dn dn50 dnmax dnlife <<<"$(phase_stats "$((up_lines + 1))" "$down_lines")"
say "recycle latency (detection to stop signal), broker up:   n=$un p50=$up50 us max=$upmax us; lifetime p50 $uplife ms"
say "recycle latency (detection to stop signal), broker down: n=$dn p50=$dn50 us max=$dnmax us; lifetime p50 $dnlife ms"
check "recycles happened with the broker down" test "$dn" -ge 2
check "broker down: the worst latency within 4x the worst with it up, +50 ms" test "$dnmax" -le $((4 * upmax + 50000))
check "broker down: the lifetime within 25% of the lifetime with it up" test $((dnlife * 100)) -ge $((uplife * 75)) -a $((dnlife * 100)) -le $((uplife * 125))

python3 - "$MSGS" "$KEY" "$bus_AmqpDroppedSamples" "$t_kill" "$t_back" <<'PY' >"$WORK/check-messages.out" 2>&1
import json, sys, collections
path, key, dropped, t_kill, t_back = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
from datetime import datetime
errors = []
seen = {}
kinds = collections.Counter()
instances = set()
recycled_in_outage = 0
samples_per_worker = collections.Counter()
for line in open(path):
    rk, mode, ctype, mid, app, body = line.rstrip("\n").split("\t", 5)
    if not rk.startswith(key + "."): errors.append("routing key " + rk); continue
    d = json.loads(body)
    data = d["data"]
    ev = data["event"]
    inst, seq = mid.rsplit("-", 1)
    instances.add(inst)
    if d["id"] != mid: errors.append("id %s != message_id %s" % (d["id"], mid))
    if ctype != "application/cloudevents+json" or app != "cgwatchd": errors.append("properties " + line)
    if d["specversion"] != "1.0" or data["schema"] != 1: errors.append("schema " + line)
    if d["source"] != "cgwatch://vm-a.test/fleet-a": errors.append("source " + d["source"])
    if data["host"] != "vm-a.test" or data["dyno"] != "fleet-a": errors.append("host/dyno " + line)
    subject = data["worker"]
    if rk != "%s.%s.%s" % (key, subject, ev): errors.append("routing key %s for %s/%s" % (rk, subject, ev))
    if d["type"] != "org.cgwatch.worker." + ev: errors.append("type " + d["type"])
    if mode != ("1" if ev == "sample" else "2"): errors.append("delivery mode %s for %s" % (mode, ev))
    if ev == "sample":
        for f in ("memory_current_bytes", "anon_bytes", "file_bytes", "budget_bytes", "peak_bytes"):
            if f not in data: errors.append("sample without " + f)
    if int(seq) in seen: continue  # a resend after the reconnect (at-least-once)
    seen[int(seq)] = ev
    kinds[ev] += 1
    if ev == "sample": samples_per_worker[subject] += 1
    if ev == "recycled":
        t = datetime.strptime(d["time"], "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=__import__("datetime").timezone.utc).timestamp() * 1000
        if t_kill < t < t_back: recycled_in_outage += 1
total = max(seen)
missing = total - len(seen)
print("messages: %d unique of %d ids, %d missing; by kind %s" % (len(seen), total, missing, dict(kinds)))
print("samples per worker: %s" % dict(samples_per_worker))
print("recycled events from inside the outage that arrived: %d" % recycled_in_outage)
if len(instances) != 1: errors.append("instances %s" % instances)
if missing != dropped: errors.append("missing %d != dropped samples %d" % (missing, dropped))
for ev in ("started", "ready", "recycled", "exited", "state-changed", "sample"):
    if kinds[ev] == 0: errors.append("no %s event" % ev)
if set(samples_per_worker) != {"leaky", "steady@1", "steady@2", "steady@3"}: errors.append("samples of %s" % set(samples_per_worker))
if recycled_in_outage < 2: errors.append("recycles of the outage not published after the reconnect")
for e in errors[:20]: print("ERROR:", e)
sys.exit(1 if errors else 0)
PY
rc=$?
cat "$WORK/check-messages.out"
check "every message: routing key, schema, properties; missing ids == dropped samples; events of the outage arrived" test $rc = 0
say "a captured recycled event:"
grep -m1 '\.recycled	2	' "$MSGS" | cut -f6
finish
