#!/bin/bash
# The AMQP sink in the real daemon with the broker unreachable (no broker needed: a closed port on
# the guest's loopback): supervision goes on (the leaker is recycled for its budget, the innocent
# starts exactly once), the journal says "unreachable" exactly once and never per retry, the
# outbox (100: room for every event of the run, not for 10 samples a second) drops samples first, a stop does not wait for the broker, and the password is in no
# log line or D-Bus property. D-Bus is a private dbus-daemon (plain mode has no system bus).
. "$(dirname "$0")/lib.sh"

PW="pw-$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')"
printf '%s\n' "$PW" >"$WORK/amqp.pw"
chmod 600 "$WORK/amqp.pw"
dbus-daemon --session --address="unix:path=$WORK/bus" --nofork --nopidfile >/dev/null 2>&1 &
BUS_PID=$!
trap 'kill $BUS_PID 2>/dev/null' EXIT
export DBUS_SYSTEM_BUS_ADDRESS="unix:path=$WORK/bus"
wait_for 30 test -S "$WORK/bus" || { not_ok "private bus up"; finish; }
prop() { busctl --address="$DBUS_SYSTEM_BUS_ADDRESS" get-property org.cgwatch1 /org/cgwatch1 org.cgwatch1.Manager "$1" 2>/dev/null | cut -d' ' -f2; }
# prop_is NAME OP VALUE: for wait_for, which re-runs a command (not re-expands its arguments).
prop_is() { test "$(prop "$1")" "$2" "$3"; }

CONF=$WORK/down.conf
write_conf <<EOF
[Worker leaky]
ExecStart=$LEAKER --rate 8
MemoryBudget=40M

[Worker steady]
ExecStart=$LEAKER --steady 4
MemoryBudget=32M

[AMQP]
URL=amqp://cgwatch@127.0.0.1:1/
Host=vm-down.test
SampleIntervalSec=200ms
OutboxSize=100
PasswordFile=$WORK/amqp.pw
EOF
"$CGWATCHD" -c "$CONF" --cgroup-root "$CG/$BASE" >"$LOG" 2>&1 &
DAEMON_PID=$!
wait_for 120 prop_is AmqpEnabled = true || { not_ok "the daemon is on the bus with [AMQP]"; finish; }
wait_for 180 sh -c "test \$(grep -c 'Recycling worker leaky ' '$LOG') -ge 2" || not_ok "leaky recycled twice with the broker unreachable"
wait_for 60 prop_is AmqpDroppedSamples -gt 0 || not_ok "the outbox dropped samples"
check "AmqpConnected is false" test "$(prop AmqpConnected)" = false
check "AmqpLastError says why" sh -c "busctl --address='$DBUS_SYSTEM_BUS_ADDRESS' get-property org.cgwatch1 /org/cgwatch1 org.cgwatch1.Manager AmqpLastError | grep -q 'connect to 127.0.0.1:1'"
check "no event dropped while samples are queued (samples go first)" test "$(prop AmqpDroppedEvents)" = 0
check "the journal says 'unreachable' exactly once" test "$(log_count 'AMQP: amqp://cgwatch@127.0.0.1:1/ unreachable')" = 1
check "the journal logs the first drop once" test "$(log_count 'AMQP: the outbox is full (100 queued)')" = 1
check "the innocent worker started exactly once" test "$(log_count 'Worker steady started')" = 1
check "every recycle of leaky has reason budget" sh -c "! grep 'Recycling worker leaky ' '$LOG' | grep -qv 'reason=budget'"
say "leaky: $(log_count 'Recycling worker leaky ') recycles; $(latency_summary)"
busctl --address="$DBUS_SYSTEM_BUS_ADDRESS" introspect org.cgwatch1 /org/cgwatch1 org.cgwatch1.Manager >"$WORK/introspect.out" 2>&1
t0=$(now_ms)
kill -TERM "$DAEMON_PID"
wait "$DAEMON_PID"
check "cgwatchd stopped cleanly" test $? = 0
DAEMON_PID=
say "stop took $(($(now_ms) - t0)) ms"
line=$(grep 'AMQP: stopped' "$LOG")
say "journal: ${line#*: }"
check "the stop line says nothing was confirmed" grep -q "AMQP: stopped; 0 messages confirmed" <<<"$line"
check "the password is not in the log" test "$(grep -c -F "$PW" "$LOG")" = 0
check "the password is not on D-Bus" test "$(grep -c -F "$PW" "$WORK/introspect.out")" = 0
finish
