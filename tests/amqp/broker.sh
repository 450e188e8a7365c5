# SPDX-License-Identifier: LGPL-2.1-or-later
# A private RabbitMQ broker on loopback for the AMQP tests; sourced by run-tests.
#
# Everything is the fixture's own: node name cgwatch-test-$$@localhost, AMQP and distribution
# ports picked free on 127.0.0.1, its own epmd on its own port (started here, stopped by PID),
# mnesia/log/config/cookie under $BROKER_DIR. Nothing of the host's rabbitmq-server (its
# /etc/rabbitmq, /var/lib/rabbitmq, the system epmd on 4369) is read or touched.
#
#   broker_init DIR       pick ports, write the config; sets BROKER_PORT, BROKER_URL
#   broker_start          start epmd (once) and the broker; wait until it accepts AMQP
#                         (BROKER_READY=port: until its AMQP port accepts connections, which
#                         RabbitMQ opens last, instead of asking rabbitmqctl: each rabbitmqctl
#                         boots an Erlang VM, about a minute under emulation)
#   broker_kill           SIGKILL the broker's Erlang VM (by PID from its pid file)
#   broker_stop           stop the broker (SIGTERM, then SIGKILL) and epmd, by PID
#   broker_ctl ARGS...    rabbitmqctl against this node

RMQ_BIN=/usr/lib/rabbitmq/bin

free_port() {
        python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

broker_init() {
        BROKER_DIR=$1
        mkdir -p "$BROKER_DIR/home" "$BROKER_DIR/mnesia" "$BROKER_DIR/log"
        BROKER_PORT=$(free_port)
        BROKER_DIST_PORT=$(free_port)
        BROKER_EPMD_PORT=$(free_port)
        BROKER_URL="amqp://guest@127.0.0.1:$BROKER_PORT/"
        head -c 15 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$BROKER_DIR/home/.erlang.cookie"
        chmod 400 "$BROKER_DIR/home/.erlang.cookie"
        cat >"$BROKER_DIR/rabbitmq.conf" <<CONF
listeners.tcp.1 = 127.0.0.1:$BROKER_PORT
loopback_users.guest = true
log.console = false
log.file.level = info
CONF
        echo '[].' >"$BROKER_DIR/enabled_plugins"
        : >"$BROKER_DIR/rabbitmq-env.conf"

        export HOME="$BROKER_DIR/home"
        export RABBITMQ_NODENAME="cgwatch-test-$$@localhost"
        export RABBITMQ_NODE_IP_ADDRESS=127.0.0.1
        export RABBITMQ_NODE_PORT=$BROKER_PORT
        export RABBITMQ_DIST_PORT=$BROKER_DIST_PORT
        export ERL_EPMD_PORT=$BROKER_EPMD_PORT
        export ERL_EPMD_ADDRESS=127.0.0.1
        export RABBITMQ_CONF_ENV_FILE="$BROKER_DIR/rabbitmq-env.conf"
        export RABBITMQ_CONFIG_FILE="$BROKER_DIR/rabbitmq.conf"
        export RABBITMQ_ADVANCED_CONFIG_FILE="$BROKER_DIR/advanced.config"
        export RABBITMQ_ENABLED_PLUGINS_FILE="$BROKER_DIR/enabled_plugins"
        export RABBITMQ_PLUGINS_EXPAND_DIR="$BROKER_DIR/plugins-expand"
        export RABBITMQ_MNESIA_BASE="$BROKER_DIR/mnesia"
        export RABBITMQ_LOG_BASE="$BROKER_DIR/log"
        export RABBITMQ_PID_FILE="$BROKER_DIR/broker.pid"
        export RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1}"
        export RABBITMQ_CTL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1}"
        BROKER_EPMD_PID= BROKER_SH_PID= BROKER_PID=
}

broker_ctl() {
        "$RMQ_BIN/rabbitmqctl" -n "$RABBITMQ_NODENAME" "$@"
}

broker_ready() {
        if [ "${BROKER_READY:-}" = port ]; then
                (exec 3<>"/dev/tcp/127.0.0.1/$BROKER_PORT") 2>/dev/null
        else
                broker_ctl -q await_startup --timeout 120 >>"$BROKER_DIR/log/ctl.out" 2>&1
        fi
}

broker_start() {
        local t0=$SECONDS
        if [ -z "$BROKER_EPMD_PID" ]; then
                epmd -port "$BROKER_EPMD_PORT" -address 127.0.0.1 </dev/null >>"$BROKER_DIR/log/epmd.log" 2>&1 &
                BROKER_EPMD_PID=$!
        fi
        rm -f "$RABBITMQ_PID_FILE"
        BROKER_PID=
        "$RMQ_BIN/rabbitmq-server" </dev/null >>"$BROKER_DIR/log/server.out" 2>&1 &
        BROKER_SH_PID=$!
        # `await_startup` returns once the node runs its applications, i.e. accepts AMQP.
        until broker_ready; do
                if ! kill -0 "$BROKER_SH_PID" 2>/dev/null; then
                        echo "broker: rabbitmq-server exited during start; see $BROKER_DIR/log" >&2
                        tail -n 20 "$BROKER_DIR/log/server.out" >&2
                        return 1
                fi
                if [ $((SECONDS - t0)) -gt "${BROKER_START_TIMEOUT:-180}" ]; then
                        echo "broker: not ready after ${BROKER_START_TIMEOUT:-180} s; see $BROKER_DIR/log" >&2
                        tail -n 20 "$BROKER_DIR/log/server.out" "$BROKER_DIR/log/"*.log >&2 2>/dev/null
                        return 1
                fi
                sleep 1
        done
        BROKER_PID=$(cat "$RABBITMQ_PID_FILE")
        BROKER_START_SECONDS=$((SECONDS - t0))
}

broker_kill() {
        kill -KILL "${BROKER_PID:-}" 2>/dev/null || true
        wait "$BROKER_SH_PID" 2>/dev/null || true
        BROKER_SH_PID=
}

broker_stop() {
        if [ -n "$BROKER_SH_PID" ]; then
                # A start that gave up has no BROKER_PID yet: the pid file, else the script.
                [ -n "${BROKER_PID:-}" ] || BROKER_PID=$(cat "$RABBITMQ_PID_FILE" 2>/dev/null || echo "$BROKER_SH_PID")
                kill -TERM "$BROKER_PID" 2>/dev/null || true
                for _ in $(seq 1 30); do
                        kill -0 "$BROKER_SH_PID" 2>/dev/null || break
                        sleep 1
                done
                kill -KILL "$BROKER_PID" 2>/dev/null || true
                wait "$BROKER_SH_PID" 2>/dev/null || true
                BROKER_SH_PID=
        fi
        if [ -n "$BROKER_EPMD_PID" ]; then
                kill -TERM "$BROKER_EPMD_PID" 2>/dev/null || true
                wait "$BROKER_EPMD_PID" 2>/dev/null || true
                BROKER_EPMD_PID=
        fi
}
