#!/bin/bash
# The fleet view from real daemons: three cgwatchd, each with its own dyno (its own cgroup
# subtree) and [AMQP] Host=, publish to one RabbitMQ on the host's loopback (run-with-broker: the
# guest reaches it as CGWATCH_DEMO_BROKER=10.0.2.100:PORT). `cgwatchctl fleet`, bound before
# they start and ended by SIGINT and SIGTERM once they stopped, shows exactly the three hosts (and the probe
# that proved the binding), each with exactly the budget recycles its own daemon logged, its
# innocent worker never recycled, every message confirmed and none dropped or returned.
. "$(dirname "$0")/lib.sh"

broker=${CGWATCH_DEMO_BROKER:-}
if [ -z "$broker" ]; then
        say "SKIP: no broker (run me through tests/integration/run-with-broker)"
        exit 77
fi
url="amqp://guest:guest@$broker/"
CTL=$BUILD/cgwatchctl
DRIVER=$BUILD/tests/amqp-driver
HOSTS="web1.example web2.example web3.example"

# The fleet view binds to the exchange, which a publisher declares: the driver does (one sink,
# connected, then freed), so that the view can bind before any daemon runs.
declared() { printf 'wait-connected 1 60\nquit\n' | "$DRIVER" "$url" cgwatch probe.example seed "" 100 30 | grep -q '^ok'; }
check "the exchange is declared" declared

"$CTL" --json fleet --amqp "$url" --duration 600 >"$WORK/fleet.json" 2>"$WORK/fleet.err" &
FJ=$!
"$CTL" fleet --amqp "$url" --duration 600 >"$WORK/fleet.txt" 2>"$WORK/fleet-text.err" &
FT=$!
trap 'kill $FJ $FT 2>/dev/null' EXIT
# The guest cannot list the broker's bindings: a probe event published after a pause must show
# up in both views, which proves they were bound before the daemons started.
sleep 5
check "a probe event is published" sh -c "printf 'events 1\nflush 30\nquit\n' |
        '$DRIVER' '$url' cgwatch probe.example seed '' 100 30 | grep -q '^ok'"

declare -A DPID
for h in $HOSTS; do
        d=$WORK/${h%%.*}
        mkdir -p "$d"
        # The dyno word of the routing keys is the config file's name: "seed" for all three.
        cat >"$d/seed.conf" <<EOF
[Dyno]
MemoryLimit=256M

[Worker leak]
ExecStart=$LEAKER --rate 20
MemoryBudget=32M

[Worker steady]
ExecStart=$LEAKER --steady 4
MemoryBudget=32M

[AMQP]
URL=$url
Host=$h
SampleIntervalSec=1s
EOF
        # Three hosts in one guest: each daemon gets a /run/cgwatch of its own (a mount namespace
        # with a tmpfs there), as it would on its own machine; they share the dyno name "seed",
        # and one /run/cgwatch/seed/lock would let only the first run.
        mkdir -p /run/cgwatch
        unshare --mount --propagation private sh -c 'mount -t tmpfs tmpfs /run/cgwatch && exec "$@"' sh \
                "$CGWATCHD" -c "$d/seed.conf" --cgroup-root "$CG/cgw-fleet-${h%%.*}" --no-bus >"$d/cgwatchd.log" 2>&1 &
        DPID[$h]=$!
done
recycled_twice() { [ "$(grep -c 'Recycling worker leak (pid [0-9]*): reason=budget ' "$1")" -ge 2 ]; }
for h in $HOSTS; do
        d=$WORK/${h%%.*}
        check "$h: connected to the broker" wait_for 120 grep -q "AMQP: connected to " "$d/cgwatchd.log" ||
                { say "$h's log:"; tail -n 20 "$d/cgwatchd.log"; }
        check "$h: its leaker was recycled twice for its budget" wait_for 180 recycled_twice "$d/cgwatchd.log"
done
for h in $HOSTS; do kill -TERM "${DPID[$h]}"; done
for h in $HOSTS; do
        d=$WORK/${h%%.*}
        wait "${DPID[$h]}"
        check "$h: cgwatchd exited 0" test $? = 0
        check "$h: every message confirmed, none returned, nacked or dropped" \
                grep -Eq 'AMQP: stopped; [1-9][0-9]* messages confirmed, 0 returned unroutable, 0 nacked, 0 events and 0 samples dropped' \
                "$d/cgwatchd.log"
        grep -h 'AMQP: stopped' "$d/cgwatchd.log"
        grep -c 'Recycling worker leak (pid [0-9]*): reason=budget ' "$d/cgwatchd.log" >"$d/recycles"
        check "$h: nobody else was recycled" test "$(grep -c 'Recycling worker' "$d/cgwatchd.log")" = "$(cat "$d/recycles")"
        check "$h: steady was started exactly once" test "$(grep -c 'Worker steady started as pid' "$d/cgwatchd.log")" = 1
done

# The daemons confirmed every message before they exited: the views have them all. (A script's
# background job ignores SIGINT, so SIGTERM, whose default kills, is the one that proves the
# view takes its signal off the queue before it prints.)
kill -INT "$FJ"
kill -TERM "$FT"
wait "$FJ"
check "fleet --json ended by SIGINT exits 0" test $? = 0
wait "$FT"
check "fleet ended by SIGTERM exits 0, having printed its table" sh -c "[ $? = 0 ] && grep -q '^HOST ' '$WORK/fleet.txt'"
trap - EXIT
check "fleet --json: every host, each with exactly the recycles its daemon logged" python3 - "$WORK/fleet.json" \
        "$(cat "$WORK/web1/recycles")" "$(cat "$WORK/web2/recycles")" "$(cat "$WORK/web3/recycles")" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
want = dict(zip(["web1.example", "web2.example", "web3.example"], map(int, sys.argv[2:])))
hosts = d["hosts"]
assert sorted(hosts) == sorted(list(want) + ["probe.example"]), sorted(hosts)
for h, n in want.items():
    ws = hosts[h]["dynos"]["seed"]["workers"]
    assert sorted(ws) == ["leak", "steady"], (h, sorted(ws))
    assert ws["leak"]["recycles_seen"] == {"budget": n}, (h, n, ws["leak"])
    assert ws["leak"]["budget_bytes"] == 32 << 20, (h, ws["leak"])
    assert not ws["steady"]["recycles_seen"], (h, ws["steady"])
    assert ws["steady"]["recycles"] == 0 and ws["steady"]["restarts"] == 0, (h, ws["steady"])
    assert ws["steady"]["budget_bytes"] == 32 << 20, (h, ws["steady"])
print("fleet --json: %s, %d messages in %.1f s" % (", ".join("%s %d recycles" % kv for kv in want.items()),
      d["messages"], d["listened_sec"]))
PY
say "fleet, captured:"
sed 's/^/  | /' "$WORK/fleet.txt"
for h in $HOSTS; do
        n=$(cat "$WORK/${h%%.*}/recycles")
        check "fleet (text): $h's leaker with budget recycles per hour ($n heard)" \
                grep -Eq "^$h +seed +leak +.* budget [0-9.]+ " "$WORK/fleet.txt"
        check "fleet (text): $h's steady worker, no recycles" grep -Eq "^$h +seed +steady +" "$WORK/fleet.txt"
done
for h in $HOSTS; do
        check "$h: its cgroups are gone" test ! -e "$CG/cgw-fleet-${h%%.*}"
done
finish
