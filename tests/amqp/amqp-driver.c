/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* Drives one AmqpSink for tests/amqp/run-test: reads commands on stdin, answers one line each on
 * stdout ("ok ..." or "fail ..."), so that the script can kill and restart the broker between
 * commands. Events carry their number in data.incarnation (worker "queuer@2"), samples theirs
 * (worker "pusher"), so the checker can tell exactly which ones arrived.
 *
 *   amqp-driver URL EXCHANGE HOST DYNO PASSWORD_FILE OUTBOX HEARTBEAT_SEC
 *
 *   events N | samples N     emit N; answer "ok N max_ns mean_ns" (time spent in each emit call)
 *   all-types                one event of every type, for worker typed.worker (and its group)
 *   wait-connected N T       until stats.connects >= N and connected (T seconds at most)
 *   wait-disconnected T      until !connected
 *   flush T                  until nothing is queued or in flight
 *   idle S                   sleep S seconds (heartbeats must keep the connection)
 *   stats                    the counters, as JSON
 *   other-sink HOST N        a second sink for HOST: emit N events, flush, free; its counters
 *   login PASSWORD_FILE T    a sink with that password: its counters after T seconds
 *   quit                     amqp_sink_free() (timed), then the final counters */

#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "amqp.h"

static uint64_t now_nsec(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000000000ULL + (uint64_t) ts.tv_nsec;
}

static uint64_t realtime_usec(void) {
        struct timespec ts;

        clock_gettime(CLOCK_REALTIME, &ts);
        return (uint64_t) ts.tv_sec * USEC_PER_SEC + (uint64_t) ts.tv_nsec / 1000;
}

static void print_stats(const char *prefix, const AmqpStats *st, uint64_t extra_ns) {
        printf("%s {\"published\":%" PRIu64 ",\"confirmed\":%" PRIu64 ",\"nacked\":%" PRIu64 ",\"returned\":%" PRIu64
               ",\"resent\":%" PRIu64 ",\"dropped_samples\":%" PRIu64 ",\"dropped_events\":%" PRIu64
               ",\"connects\":%" PRIu64 ",\"reconnects\":%" PRIu64 ",\"queued\":%" PRIu64 ",\"in_flight\":%" PRIu64
               ",\"connected\":%s,\"ns\":%" PRIu64 ",\"last_error\":\"",
               prefix, st->published, st->confirmed, st->nacked, st->returned, st->resent, st->dropped_samples,
               st->dropped_events, st->connects, st->reconnects, st->queued, st->in_flight,
               st->connected ? "true" : "false", extra_ns);
        for (const char *p = st->last_error; *p; p++)
                if (*p == '"' || *p == '\\')
                        printf("\\%c", *p);
                else if ((unsigned char) *p >= 0x20)
                        putchar(*p);
        printf("\"}\n");
}

/* Polls the counters every 10 ms until cond holds or `sec` seconds passed. */
#define WAIT_UNTIL(s, st, sec, cond)                                              \
        ({                                                                        \
                uint64_t _end = now_nsec() + (uint64_t) (sec) *1000000000ULL;     \
                bool _ok;                                                         \
                for (;;) {                                                        \
                        amqp_sink_stats((s), &(st));                              \
                        _ok = (cond);                                             \
                        if (_ok || now_nsec() > _end)                             \
                                break;                                            \
                        nanosleep(&(struct timespec){.tv_nsec = 10000000}, NULL); \
                }                                                                 \
                _ok;                                                              \
        })

static Event numbered_event(unsigned n) {
        Event e = EVENT_INIT(EVENT_RECYCLED);

        e.realtime_usec = realtime_usec();
        e.monotonic_usec = now_nsec() / 1000;
        e.worker = "queuer@2";
        e.supervisor = "dam";
        e.cgroup = "dam/queuer@2";
        e.incarnation = n;
        e.pid = 1000 + (pid_t) n;
        e.reason = RECYCLE_BUDGET;
        e.memory_bytes = 130023424;
        e.memory_current_bytes = 134217728;
        e.budget_bytes = 128 << 20;
        e.dyno_current_bytes = 300 << 20;
        e.dyno_limit_bytes = 512 << 20;
        return e;
}

static void emit_all_types(AmqpSink *s) {
        for (EventType t = 0; t < _EVENT_TYPE_MAX; t++) {
                Event e = EVENT_INIT(t);

                e.realtime_usec = realtime_usec();
                e.worker = t == EVENT_GAVE_UP ? NULL : "typed.worker";
                e.supervisor = "dam";
                e.incarnation = 1;
                e.exit_code = CLD_KILLED;
                e.exit_status = SIGTERM;
                e.old_state = WORKER_RUNNING;
                e.new_state = WORKER_STOPPING;
                e.error = -EMFILE;
                (void) amqp_sink_emit(s, &e);
        }
        /* And the dyno's own. */
        Event d = EVENT_INIT(EVENT_GAVE_UP);
        d.realtime_usec = realtime_usec();
        (void) amqp_sink_emit(s, &d);
}

int main(int argc, char **argv) {
        AmqpSinkOptions o = {};
        AmqpSink *s = NULL;
        unsigned n_events = 0, n_samples = 0;
        char line[512];
        int r;

        if (argc != 8) {
                fprintf(stderr, "usage: %s URL EXCHANGE HOST DYNO PASSWORD_FILE OUTBOX HEARTBEAT_SEC\n", argv[0]);
                return 2;
        }
        o = (AmqpSinkOptions){
                .url = argv[1],
                .exchange = argv[2],
                .host = argv[3],
                .dyno = argv[4],
                .password_file = *argv[5] ? argv[5] : NULL,
                .outbox_capacity = strtoul(argv[6], NULL, 10),
                .heartbeat_sec = (unsigned) strtoul(argv[7], NULL, 10),
        };
        r = amqp_sink_new(&o, &s);
        if (r < 0) {
                fprintf(stderr, "amqp_sink_new: %s\n", strerror(-r));
                return 1;
        }
        setvbuf(stdout, NULL, _IOLBF, 0);

        while (fgets(line, sizeof(line), stdin)) {
                char cmd[32] = "", arg[256] = "";
                unsigned a = 0, b = 0;
                AmqpStats st;

                if (sscanf(line, "%31s %u %u", cmd, &a, &b) < 1)
                        continue;

                if (streq(cmd, "events") || streq(cmd, "samples")) {
                        uint64_t max = 0, sum = 0;
                        bool ev = streq(cmd, "events");

                        for (unsigned i = 0; i < a; i++) {
                                Event e = numbered_event(n_events + 1);
                                MemorySampleRecord rec = {
                                        .worker = "pusher",
                                        .supervisor = "dam",
                                        .realtime_usec = realtime_usec(),
                                        .incarnation = n_samples + 1,
                                        .pid = 77,
                                        .memory_current_bytes = 50 << 20,
                                        .anon_bytes = 40 << 20,
                                        .file_bytes = 9 << 20,
                                        .budget_bytes = 64 << 20,
                                        .peak_bytes = 60 << 20,
                                };
                                uint64_t t0 = now_nsec(), d;

                                r = ev ? amqp_sink_emit(s, &e) : amqp_sink_sample(s, &rec);
                                d = now_nsec() - t0;
                                if (r < 0) {
                                        printf("fail emit: %s\n", strerror(-r));
                                        break;
                                }
                                if (ev)
                                        n_events++;
                                else
                                        n_samples++;
                                max = MAX(max, d);
                                sum += d;
                        }
                        if (r >= 0)
                                printf("ok %u %" PRIu64 " %" PRIu64 "\n", a, max, a ? sum / a : 0);
                } else if (streq(cmd, "all-types")) {
                        emit_all_types(s);
                        printf("ok\n");
                } else if (streq(cmd, "wait-connected")) {
                        bool ok = WAIT_UNTIL(s, st, b, st.connected && st.connects >= a);
                        print_stats(ok ? "ok" : "fail", &st, 0);
                } else if (streq(cmd, "wait-disconnected")) {
                        bool ok = WAIT_UNTIL(s, st, a, !st.connected);
                        print_stats(ok ? "ok" : "fail", &st, 0);
                } else if (streq(cmd, "flush")) {
                        bool ok = WAIT_UNTIL(s, st, a, st.queued == 0 && st.in_flight == 0);
                        print_stats(ok ? "ok" : "fail", &st, 0);
                } else if (streq(cmd, "idle")) {
                        sleep(a);
                        amqp_sink_stats(s, &st);
                        print_stats("ok", &st, 0);
                } else if (streq(cmd, "stats")) {
                        amqp_sink_stats(s, &st);
                        print_stats("ok", &st, 0);
                } else if (streq(cmd, "other-sink") || streq(cmd, "login")) {
                        AmqpSinkOptions o2 = o;
                        AmqpSink *s2 = NULL;
                        bool other = streq(cmd, "other-sink");

                        if (sscanf(line, "%*s %255s %u", arg, &a) != 2) {
                                printf("fail usage\n");
                                continue;
                        }
                        if (other)
                                o2.host = arg;
                        else
                                o2.password_file = arg;
                        r = amqp_sink_new(&o2, &s2);
                        if (r < 0) {
                                printf("fail amqp_sink_new: %s\n", strerror(-r));
                                continue;
                        }
                        if (other) {
                                for (unsigned i = 0; i < a; i++) {
                                        Event e = numbered_event(i + 1);
                                        (void) amqp_sink_emit(s2, &e);
                                }
                                (void) WAIT_UNTIL(s2, st, 30, st.connected && st.queued == 0 && st.in_flight == 0);
                        } else
                                (void) WAIT_UNTIL(s2, st, a, st.connected);
                        amqp_sink_stats(s2, &st);
                        amqp_sink_free(s2);
                        print_stats("ok", &st, 0);
                } else if (streq(cmd, "quit")) {
                        /* The counters as the sink is asked to stop, and how long the stop took. */
                        uint64_t t0;

                        amqp_sink_stats(s, &st);
                        t0 = now_nsec();
                        s = amqp_sink_free(s);
                        print_stats("ok", &st, now_nsec() - t0);
                        return 0;
                } else
                        printf("fail unknown command %s\n", cmd);
        }

        amqp_sink_free(s);
        return 0;
}
