/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* The fleet view's table, fed with bodies that event-json.c itself produces (so producer and
 * consumer agree on the schema): rows per host/dyno/worker, recycles by reason and per hour,
 * leak verdicts from the event and from samples, the last event, and what is ignored. */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <json-c/json.h>

#include "event-json.h"
#include "fleet.h"

#define T0 (1796173323ULL * USEC_PER_SEC) /* 2026-12-02T01:02:03Z */

static void add_event(Fleet *f, const char *host, const char *dyno, const Event *e) {
        EventJsonContext ctx = {
                .host = host, .dyno = dyno, .instance = "0123456789abcdef0123456789abcdef", .sequence = 1};
        char *body = NULL;

        assert_int_equal(event_json_format_event(e, &ctx, &body), 0);
        assert_int_equal(fleet_add(f, body, strlen(body)), e->worker ? 1 : 0);
        free(body);
}

static void add_sample(Fleet *f, const char *host, const char *dyno, const MemorySampleRecord *r) {
        EventJsonContext ctx = {
                .host = host, .dyno = dyno, .instance = "0123456789abcdef0123456789abcdef", .sequence = 2};
        char *body = NULL;

        assert_int_equal(event_json_format_sample(r, &ctx, &body), 0);
        assert_int_equal(fleet_add(f, body, strlen(body)), 1);
        free(body);
}

static Event recycled(const char *worker, RecycleReason reason, unsigned recycles, usec_t t) {
        Event e = EVENT_INIT(EVENT_RECYCLED);

        e.worker = worker;
        e.reason = reason;
        e.recycles = recycles;
        e.realtime_usec = t;
        e.memory_current_bytes = 40 << 20;
        e.budget_bytes = 40 << 20;
        return e;
}

static json_object *path(json_object *o, const char *const *keys) {
        for (; *keys; keys++) {
                json_object *v = NULL;
                assert_true(json_object_object_get_ex(o, *keys, &v));
                o = v;
        }
        return o;
}

static void test_fleet(void **state) {
        Fleet f = {};
        Event e;
        MemorySampleRecord s = {
                .worker = "queuer",
                .realtime_usec = T0 + 5 * USEC_PER_SEC,
                .incarnation = 4,
                .memory_current_bytes = 30 << 20,
                .budget_bytes = 40 << 20,
                .peak_bytes = UINT64_MAX,
                .state = "running",
                .recycles = 3,
                .leaking = true,
                .leak_rate_bytes_per_sec = 4 << 20,
        };
        json_object *j;
        char *text = NULL;
        size_t len = 0;
        FILE *out;

        /* web2 first: the rows come out sorted anyway. */
        e = recycled("http", RECYCLE_LIFETIME, 1, T0);
        add_event(&f, "web2", "seed", &e);
        for (unsigned i = 1; i <= 3; i++) {
                e = recycled("queuer", RECYCLE_BUDGET, i, T0 + i * USEC_PER_SEC);
                add_event(&f, "web1", "seed", &e);
        }
        e = recycled("queuer", RECYCLE_MANUAL, 4, T0 + 4 * USEC_PER_SEC);
        add_event(&f, "web1", "seed", &e);
        add_sample(&f, "web1", "seed", &s);
        s.worker = "pusher";
        s.leaking = false;
        s.leak_rate_bytes_per_sec = 0;
        s.recycles = 0;
        add_sample(&f, "web1", "seed", &s);
        e = EVENT_INIT(EVENT_LEAK_VERDICT);
        e.worker = "http";
        e.growth_bytes_per_sec = 1 << 20;
        e.realtime_usec = T0 + 9 * USEC_PER_SEC;
        add_event(&f, "web2", "seed", &e);
        /* A supervisor's event counts as a message but makes no row; foreign bodies are ignored. */
        e = EVENT_INIT(EVENT_GAVE_UP);
        e.supervisor = "dam";
        add_event(&f, "web1", "seed", &e);
        assert_int_equal(fleet_add(&f, "not json", 8), 0);
        assert_int_equal(fleet_add(&f, "{\"data\":{\"host\":\"x\"}}", 21), 0);
        assert_int_equal(f.messages, 9);
        assert_int_equal(f.ignored, 2);

        fleet_sort(&f);
        assert_int_equal(f.n_workers, 3);
        assert_string_equal(f.workers[0]->host, "web1");
        assert_string_equal(f.workers[0]->worker, "pusher");
        assert_string_equal(f.workers[1]->worker, "queuer");
        assert_string_equal(f.workers[2]->host, "web2");

        FleetWorker *q = f.workers[1];
        assert_int_equal(q->n_reasons, 2);
        assert_string_equal(q->reasons[0].name, "budget");
        assert_int_equal(q->reasons[0].count, 3);
        assert_string_equal(q->reasons[1].name, "manual");
        assert_int_equal(q->reasons[1].count, 1);
        assert_true(q->leaking);
        assert_int_equal(q->leak_rate_bytes_per_sec, 4 << 20);
        assert_int_equal(q->recycles, 3); /* the sample came last */
        assert_string_equal(q->last_event, "sample");
        assert_string_equal(q->last_reason, "manual");
        assert_string_equal(q->state, "running");
        assert_int_equal(q->memory_current_bytes, 30 << 20);

        FleetWorker *h = f.workers[2];
        assert_true(h->leaking);
        assert_int_equal(h->leak_rate_bytes_per_sec, 1 << 20);
        assert_string_equal(h->last_event, "leak-verdict");
        assert_false(f.workers[0]->leaking);

        /* 3 budget recycles heard in 60 s: 180 an hour. */
        j = fleet_to_json(&f, 60);
        assert_non_null(j);
        assert_true(json_object_get_double(path(j, (const char *[]){"hosts", "web1", "dynos", "seed", "workers",
                                                                    "queuer", "recycles_per_hour", "budget", NULL})) ==
                    180.0);
        assert_int_equal(json_object_get_int(path(j, (const char *[]){"hosts", "web1", "dynos", "seed", "workers",
                                                                      "queuer", "recycles_seen", "manual", NULL})),
                         1);
        assert_true(json_object_get_boolean(
                path(j, (const char *[]){"hosts", "web2", "dynos", "seed", "workers", "http", "leaking", NULL})));
        assert_string_equal(json_object_get_string(path(j, (const char *[]){"hosts", "web2", "dynos", "seed", "workers",
                                                                            "http", "last_time", NULL})),
                            "2026-12-02T01:02:12.000000Z");
        json_object_put(j);

        out = open_memstream(&text, &len);
        assert_non_null(out);
        fleet_print(&f, 60, out);
        fclose(out);
        assert_non_null(strstr(text,
                               "web1           seed       queuer       running  30.0M/40.0M   budget 180, manual 60    "
                               "yes, 4.0M/s      sample 2026-12-02T01:02:08.000000Z\n"));
        assert_non_null(strstr(text, "\n3 workers, 9 messages in 60 s.\n"));
        free(text);
        fleet_done(&f);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_fleet),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
