# SPDX-License-Identifier: LGPL-2.1-or-later
# N idle workers (`sleep infinity`, each in a cgroup node of its own) under each supervisor, for
# bench/idle and bench/fanout. side_start SIDE N starts the supervisor and returns once all N
# run; side_stop SIDE stops them all gracefully and the supervisor with them. SIDE_PID is the
# supervisor daemon's pid (what idle measures). Sides: cgwatch, pm2, supervisord.

# Every side gets the same fd limits (supervisord keeps pipes per program, PM2 too).
ulimit -n 65536

# running_count DIR: processes in DIR's child nodes.
running_count() { cat "$1"/*/cgroup.procs 2>/dev/null | wc -l; }

side_start() {
        local side=$1 n=$2 dir
        case $side in
        cgwatch)
                printf '[Worker idle]\nExecStart=/bin/sleep infinity\nInstances=%s\nMemoryBudget=16M\n' "$n" >"$WORK/idle.conf"
                "$CGWATCHD" -c "$WORK/idle.conf" --cgroup-root "$CG/cgw-bench" --no-bus >"$WORK/idle-cgwatchd.log" 2>&1 &
                SIDE_PID=$!
                dir=$CG/cgw-bench/dyno
                ;;
        pm2)
                pm2_home
                dir=$PEERS/pm2
                node -e '
const [n, script, parent] = process.argv.slice(1);
const apps = [];
for (let i = 1; i <= Number(n); i++)
  apps.push({name: `w${i}`, script, interpreter: "none", args: [parent, "/bin/sleep", "infinity"], autorestart: true});
console.log(JSON.stringify({apps}));' "$n" "$BENCH/lib/in-cgroup" "$dir" >"$WORK/eco.json"
                pm2 start "$WORK/eco.json" >"$WORK/pm2-start.log" 2>&1 &
                wait_until 300 test -s "$PM2_HOME/pm2.pid" ||
                        { say "PM2 did not start: $(tail -n 5 "$WORK/pm2-start.log" "$PM2_HOME/pm2.log" 2>&1)"; return 1; }
                SIDE_PID=$(pm2_god_pid)
                ;;
        supervisord)
                dir=$PEERS/supervisord
                cat >"$WORK/sv.conf" <<EOF2
[supervisord]
nodaemon=true
logfile=$WORK/supervisord.log
pidfile=$WORK/supervisord.pid
minfds=8192
[unix_http_server]
file=$WORK/sv.sock
[rpcinterface:supervisor]
supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface
[supervisorctl]
serverurl=unix://$WORK/sv.sock
[program:w]
command=$BENCH/lib/in-cgroup $dir /bin/sleep infinity
numprocs=$n
process_name=%(program_name)s_%(process_num)d
autorestart=true
startsecs=0
stdout_logfile=NONE
stderr_logfile=NONE
EOF2
                supervisord -c "$WORK/sv.conf" >/dev/null 2>&1 &
                SIDE_PID=$!
                ;;
        esac
        wait_until 3600 sh -c "[ \$(cat $dir/*/cgroup.procs 2>/dev/null | wc -l) -ge $n ]"
}

side_stop() {
        local side=$1
        case $side in
        cgwatch)
                kill -TERM "$SIDE_PID"
                wait "$SIDE_PID" || true
                ;;
        pm2)
                pm2_kill
                ;;
        supervisord)
                kill -TERM "$SIDE_PID"
                wait "$SIDE_PID" || true
                ;;
        esac
        peers_cleanup
}
