# SPDX-License-Identifier: LGPL-2.1-or-later
# Shared by examples/demo (make demo) and tests/integration/test-seed-dyno.sh (sourced, bash): a private
# RabbitMQ broker on loopback (tests/amqp/broker.sh: its own node name, ports, epmd and data
# dir, stopped by PID) and the seed dyno's configuration with the paths put in.
#
#   seed_missing          prints what is missing to run the dyno (empty: nothing)
#   seed_init WORKDIR     broker_init WORKDIR/broker; sets SEED_WORK, SEED_STATE
#   seed_write_conf FILE  examples/seed-dyno/cgwatch.conf with this tree's paths, the state dir
#                         and the broker's address: CGWATCH_DEMO_BROKER (HOST:PORT) when set,
#                         else 127.0.0.1 and this fixture's port
#   seed_host_broker DIR  for a dyno in tests/vm/run: broker_init DIR and broker_start here, on this
#                         host's loopback (seconds, against about 20 minutes under the guest's
#                         emulation); exports CGWATCH_DEMO_BROKER=10.0.2.100:BROKER_PORT, the address
#                         the guest reaches it at with `tests/vm/run --forward-tcp BROKER_PORT`
#   seed_tally            the exact message counts (tally.js) as shell variables tally_<key>
#   seed_recycles_by_reason LOG  recycles by reason from cgwatchd's log: "budget=7 idle=1"

SEED_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$SEED_DIR/../../tests/amqp/broker.sh"

seed_missing() {
        local m=()
        [ -x /usr/bin/node ] || m+=("/usr/bin/node (tools/install-deps)")
        [ -f "$SEED_DIR/node_modules/amqplib/package.json" ] || m+=("amqplib in $SEED_DIR/node_modules (tools/install-deps runs npm ci)")
        [ -x "$RMQ_BIN/rabbitmq-server" ] || m+=("rabbitmq-server (tools/install-deps)")
        command -v epmd >/dev/null || m+=("epmd (rabbitmq-server's erlang)")
        command -v python3 >/dev/null || m+=("python3")
        command -v dbus-daemon >/dev/null || m+=("dbus-daemon (the demo's own bus for cgwatchctl top; package dbus)")
        [ ${#m[@]} -eq 0 ] || printf '%s\n' "${m[@]}"
}

seed_init() {
        SEED_WORK=$1
        SEED_STATE=$SEED_WORK/state
        mkdir -p "$SEED_STATE"
        broker_init "$SEED_WORK/broker"
        BROKER_PID=
}

seed_host_broker() {
        broker_init "$1"
        echo "seed: starting rabbitmq-server on this host's 127.0.0.1:$BROKER_PORT (node $RABBITMQ_NODENAME, data in $1)..."
        BROKER_READY=port BROKER_START_TIMEOUT=${CGWATCH_DEMO_BROKER_TIMEOUT:-900} broker_start
        export CGWATCH_DEMO_BROKER=10.0.2.100:$BROKER_PORT
        echo "seed: broker up in ${BROKER_START_SECONDS} s; the guest reaches it as $CGWATCH_DEMO_BROKER."
}

seed_write_conf() {
        sed -e "s|/srv/seed-dyno|$SEED_DIR|g" -e "s|/run/seed-dyno|$SEED_STATE|g" \
                -e "s|127\.0\.0\.1:5672/|${CGWATCH_DEMO_BROKER:-127.0.0.1:$BROKER_PORT}/|g" -e "s|HTTP_PORT=8080|HTTP_PORT=${SEED_HTTP_PORT:-8080}|" \
                "$SEED_DIR/cgwatch.conf" >"$1"
        chmod 644 "$1"
}

seed_tally() {
        local line
        while IFS= read -r line; do
                printf -v "tally_${line%%=*}" '%s' "${line#*=}"
        done < <(/usr/bin/node "$SEED_DIR/tally.js" "$SEED_STATE")
}

# Recycles by reason, from cgwatchd's log: "budget=7 idle=1" (empty when none).
seed_recycles_by_reason() {
        grep -o 'Recycling worker [^ ]* (pid [0-9]*): reason=[a-z-]*' "$1" | sed 's/.*reason=//' | sort | uniq -c |
                awk '{printf("%s%s=%s", (NR > 1 ? " " : ""), $2, $1)}'
}
