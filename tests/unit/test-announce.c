/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* The announcer and the D-Bus sink's coalescing queue, with fake sinks: every event reaches
 * every sink exactly once and in order; PropertiesChanged is coalesced per worker. */

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "announce.h"
#include "bus-queue.h"

typedef struct Recorder {
        int id;
        size_t n;
        EventType types[32];
        int *order; /* shared log of which sink heard what, in call order */
        size_t *n_order;
} Recorder;

static void record(void *userdata, const Event *e) {
        Recorder *r = userdata;
        r->types[r->n++] = e->type;
        r->order[(*r->n_order)++] = r->id;
}

static void test_every_event_every_sink_once(void **state) {
        Announcer a = {};
        int order[64];
        size_t n_order = 0;
        Recorder r1 = {.id = 1, .order = order, .n_order = &n_order};
        Recorder r2 = {.id = 2, .order = order, .n_order = &n_order};
        Recorder r3 = {.id = 3, .order = order, .n_order = &n_order};
        const EventType seq[] = {EVENT_STARTED, EVENT_RECYCLED, EVENT_EXITED, EVENT_BUDGET_CHANGED};

        assert_int_equal(announce_add_sink(&a, "one", record, &r1), 0);
        assert_int_equal(announce_add_sink(&a, "two", record, &r2), 0);
        assert_int_equal(announce_add_sink(&a, "three", record, &r3), 0);
        for (size_t i = 0; i < ELEMENTSOF(seq); i++) {
                Event e = EVENT_INIT(seq[i]);
                announce_event(&a, &e);
        }
        assert_int_equal(r1.n, 4);
        assert_int_equal(r2.n, 4);
        assert_int_equal(r3.n, 4);
        for (size_t i = 0; i < ELEMENTSOF(seq); i++) {
                assert_int_equal(r1.types[i], seq[i]);
                assert_int_equal(r2.types[i], seq[i]);
                assert_int_equal(r3.types[i], seq[i]);
                /* sinks hear each event in registration order before the next event */
                assert_int_equal(order[3 * i], 1);
                assert_int_equal(order[3 * i + 1], 2);
                assert_int_equal(order[3 * i + 2], 3);
        }
        assert_int_equal(a.n_events[EVENT_RECYCLED], 1);
        assert_int_equal(a.n_events[EVENT_READY], 0);
}

static void test_bad_sinks_and_events(void **state) {
        Announcer a = {};
        int order[64];
        size_t n_order = 0;
        Recorder r = {.order = order, .n_order = &n_order};

        assert_int_equal(announce_add_sink(&a, "null", NULL, NULL), -EINVAL);
        for (size_t i = 0; i < ANNOUNCE_SINKS_MAX; i++)
                assert_int_equal(announce_add_sink(&a, "r", record, &r), 0);
        assert_int_equal(announce_add_sink(&a, "one too many", record, &r), -ENOSPC);

        Event bad = EVENT_INIT(_EVENT_TYPE_MAX);
        announce_event(&a, &bad);
        announce_event(&a, NULL);
        assert_int_equal(r.n, 0);
}

static void test_event_names(void **state) {
        assert_string_equal(event_type_to_string(EVENT_STARTED), "started");
        assert_string_equal(event_type_to_string(EVENT_RECYCLED), "recycled");
        assert_string_equal(event_type_to_string(EVENT_GAVE_UP), "gave-up");
        assert_string_equal(event_type_to_string(EVENT_BUDGET_CHANGED), "budget-changed");
        assert_null(event_type_to_string(_EVENT_TYPE_MAX));
        for (int t = 0; t < _EVENT_TYPE_MAX; t++)
                assert_non_null(event_type_to_string((EventType) t));
}

static Event worker_event(EventType t, const char *worker) {
        Event e = EVENT_INIT(t);
        e.worker = worker;
        return e;
}

static void test_properties_coalesced(void **state) {
        BusQueue q = {};
        Event st = worker_event(EVENT_STATE_CHANGED, "a");
        Event rec = worker_event(EVENT_RECYCLED, "a");
        Event started = worker_event(EVENT_STARTED, "a");
        Event budget = worker_event(EVENT_BUDGET_CHANGED, "b");

        /* The first mark arms the flush, the following ones only add to it. */
        assert_int_equal(bus_queue_mark(&q, "a", worker_properties_changed_by(&st)), 1);
        assert_int_equal(bus_queue_mark(&q, "a", worker_properties_changed_by(&rec)), 0);
        assert_int_equal(bus_queue_mark(&q, "a", worker_properties_changed_by(&st)), 0);
        assert_int_equal(bus_queue_mark(&q, "a", worker_properties_changed_by(&started)), 0);
        assert_int_equal(bus_queue_mark(&q, "b", worker_properties_changed_by(&budget)), 0);
        assert_int_equal(q.n, 2); /* one PropertiesChanged per worker */
        assert_string_equal(q.entries[0].worker, "a");
        assert_int_equal(q.entries[0].mask, WPROP_STATE | WPROP_MAIN_PID | WPROP_RESTARTS | WPROP_RECYCLES |
                                                    WPROP_LAST_RECYCLE_REASON | WPROP_CONTROL_GROUP |
                                                    WPROP_START_TIMESTAMP);
        assert_string_equal(q.entries[1].worker, "b");
        assert_int_equal(q.entries[1].mask, WPROP_MEMORY_BUDGET);

        bus_queue_clear(&q);
        assert_int_equal(q.n, 0);
        /* An event that changes nothing queues nothing. */
        Event ready = worker_event(EVENT_READY, "a");
        assert_int_equal(bus_queue_mark(&q, "a", worker_properties_changed_by(&ready)), 0);
        assert_int_equal(q.n, 0);
        Event gave_up = EVENT_INIT(EVENT_GAVE_UP);
        assert_int_equal(worker_properties_changed_by(&gave_up), 0);
        bus_queue_done(&q);
}

static void test_property_names(void **state) {
        assert_string_equal(worker_property_name(WPROP_STATE), "State");
        assert_string_equal(worker_property_name(WPROP_CONTROL_GROUP), "ControlGroup");
        assert_string_equal(worker_property_name(WPROP_START_TIMESTAMP), "StartTimestamp");
        assert_null(worker_property_name(WPROP_STATE | WPROP_MAIN_PID));
        for (unsigned bit = 1; bit <= _WPROP_ALL; bit <<= 1)
                assert_non_null(worker_property_name((WorkerProperty) bit));
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_every_event_every_sink_once),
                cmocka_unit_test(test_bad_sinks_and_events),
                cmocka_unit_test(test_event_names),
                cmocka_unit_test(test_properties_coalesced),
                cmocka_unit_test(test_property_names),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
