/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* The history rings: growth by doubling, the bound (oldest overwritten, counted), lookups by
 * time, the memory-event coalescing, series kept sorted, and the sink's choice of events with a
 * sample of the worker and of the dyno at each recycle. */

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "history.h"

static void test_ring_grows_then_overwrites(void **state) {
        HistoryRing r;
        history_ring_init(&r, sizeof(uint64_t), 20);

        assert_null(history_ring_get(&r, 0));
        for (uint64_t v = 0; v < 20; v++) {
                assert_int_equal(history_ring_push(&r, &v), 0);
                assert_int_equal(r.n, v + 1);
                /* 8, then doubling, capped at max */
                assert_int_equal(r.cap, v < 8 ? 8 : v < 16 ? 16 : 20);
        }
        for (uint64_t i = 0; i < 20; i++)
                assert_int_equal(*(const uint64_t *) history_ring_get(&r, i), i);
        assert_int_equal(r.overwritten, 0);

        /* Full: each push drops the oldest, the order stays oldest first. */
        for (uint64_t v = 20; v < 53; v++)
                assert_int_equal(history_ring_push(&r, &v), 0);
        assert_int_equal(r.n, 20);
        assert_int_equal(r.cap, 20);
        assert_int_equal(r.overwritten, 33);
        for (uint64_t i = 0; i < 20; i++)
                assert_int_equal(*(const uint64_t *) history_ring_get(&r, i), 33 + i);
        assert_null(history_ring_get(&r, 20));
        history_ring_done(&r);
        assert_int_equal(r.n, 0);
        assert_null(history_ring_get(&r, 0));
}

static void test_ring_grows_when_wrapped(void **state) {
        /* max 1: a ring of one keeps the newest */
        HistoryRing r;
        uint64_t v;
        history_ring_init(&r, sizeof v, 1);
        for (v = 1; v <= 3; v++)
                assert_int_equal(history_ring_push(&r, &v), 0);
        assert_int_equal(r.n, 1);
        assert_int_equal(*(const uint64_t *) history_ring_get(&r, 0), 3);
        history_ring_done(&r);

        /* max 0 keeps nothing */
        history_ring_init(&r, sizeof v, 0);
        assert_int_equal(history_ring_push(&r, &v), 0);
        assert_int_equal(r.n, 0);
}

static HistorySample sample_at(usec_t t, uint64_t cur) {
        return (HistorySample){.realtime_usec = t, .memory_current_bytes = cur, .budget_bytes = 100};
}

static void test_samples_bounded_and_since(void **state) {
        History *h = history_new(NULL, NULL);
        assert_non_null(h);

        for (usec_t t = 1; t <= HISTORY_SAMPLES_MAX + 100; t++) {
                HistorySample s = sample_at(t * USEC_PER_SEC, t);
                assert_int_equal(history_add_sample(h, "w", &s, HISTORY_PERIODIC), 1);
        }
        HistorySeries *s = history_find(h, "w");
        assert_non_null(s);
        assert_int_equal(s->samples.n, HISTORY_SAMPLES_MAX);
        assert_int_equal(s->samples.overwritten, 100);
        const HistorySample *first = history_ring_get(&s->samples, 0);
        assert_int_equal(first->memory_current_bytes, 101);

        /* since: exact boundaries */
        assert_int_equal(history_series_samples_since(s, 0), 0);
        assert_int_equal(history_series_samples_since(s, 101 * USEC_PER_SEC), 0);
        assert_int_equal(history_series_samples_since(s, 102 * USEC_PER_SEC), 1);
        assert_int_equal(history_series_samples_since(s, 102 * USEC_PER_SEC - 1), 1);
        assert_int_equal(history_series_samples_since(s, (HISTORY_SAMPLES_MAX + 100) * USEC_PER_SEC),
                         HISTORY_SAMPLES_MAX - 1);
        assert_int_equal(history_series_samples_since(s, (HISTORY_SAMPLES_MAX + 101) * USEC_PER_SEC),
                         HISTORY_SAMPLES_MAX);
        history_free(h);
}

static void test_memory_event_samples_coalesced(void **state) {
        History *h = history_new(NULL, NULL);
        HistorySample s;

        /* A worker at its tripwire: notifications every 10 ms, one sample per second kept. */
        size_t kept = 0;
        for (usec_t t = USEC_PER_SEC; t < 4 * USEC_PER_SEC; t += 10 * USEC_PER_MSEC) {
                s = sample_at(t, t);
                int r = history_add_sample(h, "leaker", &s, HISTORY_MEMORY_EVENT);
                assert_true(r == 0 || r == 1);
                kept += r;
        }
        assert_int_equal(kept, 3); /* at 1 s, 2 s, 3 s */
        /* Periodic and recycle samples are never coalesced. */
        s = sample_at(3 * USEC_PER_SEC + 1, 1);
        assert_int_equal(history_add_sample(h, "leaker", &s, HISTORY_PERIODIC), 1);
        assert_int_equal(history_add_sample(h, "leaker", &s, HISTORY_AT_EVENT), 1);
        assert_int_equal(history_find(h, "leaker")->samples.n, 5);
        /* The exact gap: 1 s after the last kept one is kept again. */
        s = sample_at(4 * USEC_PER_SEC - 1, 1);
        assert_int_equal(history_add_sample(h, "leaker", &s, HISTORY_MEMORY_EVENT), 0);
        s = sample_at(4 * USEC_PER_SEC, 1);
        assert_int_equal(history_add_sample(h, "leaker", &s, HISTORY_MEMORY_EVENT), 1);
        /* A clock set back does not silence it. */
        s = sample_at(USEC_PER_SEC / 2, 1);
        assert_int_equal(history_add_sample(h, "leaker", &s, HISTORY_MEMORY_EVENT), 1);
        history_free(h);
}

static void test_series_sorted_and_forgotten(void **state) {
        History *h = history_new(NULL, NULL);
        const char *names[] = {"queuer@2", "http", HISTORY_DYNO, "queuer@1", "zeta", "alpha"};
        HistorySample s = sample_at(1, 1);

        for (size_t i = 0; i < ELEMENTSOF(names); i++)
                assert_int_equal(history_add_sample(h, names[i], &s, HISTORY_PERIODIC), 1);
        assert_int_equal(h->n, ELEMENTSOF(names));
        for (size_t i = 1; i < h->n; i++)
                assert_true(strcmp(h->series[i - 1]->name, h->series[i]->name) < 0);
        for (size_t i = 0; i < ELEMENTSOF(names); i++) {
                assert_non_null(history_find(h, names[i]));
                assert_string_equal(history_find(h, names[i])->name, names[i]);
        }
        assert_null(history_find(h, "queuer"));
        assert_null(history_find(h, "queuer@3"));

        history_forget(h, "queuer@1");
        history_forget(h, "nobody");
        assert_int_equal(h->n, ELEMENTSOF(names) - 1);
        assert_null(history_find(h, "queuer@1"));
        assert_non_null(history_find(h, "queuer@2"));
        assert_non_null(history_find(h, "alpha"));
        history_free(h);
}

typedef struct FakeNode {
        unsigned calls;
        char last[32];
} FakeNode;

static int fake_sample(void *userdata, const char *name, HistorySample *ret) {
        FakeNode *f = userdata;
        f->calls++;
        snprintf(f->last, sizeof f->last, "%s", name);
        if (strcmp(name, "gone") == 0)
                return -ENOENT;
        *ret = (HistorySample){.memory_current_bytes = strcmp(name, HISTORY_DYNO) == 0 ? 900 : 90,
                               .anon_bytes = 80,
                               .file_bytes = 10,
                               .peak_bytes = 95,
                               .budget_bytes = 100};
        return 0;
}

static void test_sink(void **state) {
        FakeNode f = {};
        History *h = history_new(fake_sample, &f);

        /* Kept: started, recycled, exited, ... Not kept: ready, state changes, group events. */
        Event e = EVENT_INIT(EVENT_STARTED);
        e.worker = "w";
        e.realtime_usec = 10;
        e.memory_current_bytes = 5;
        history_sink_emit(h, &e);
        e.type = EVENT_READY;
        history_sink_emit(h, &e);
        e.type = EVENT_STATE_CHANGED;
        history_sink_emit(h, &e);
        Event g = EVENT_INIT(EVENT_GAVE_UP);
        g.supervisor = "dam";
        history_sink_emit(h, &g);
        assert_int_equal(f.calls, 0);
        HistorySeries *s = history_find(h, "w");
        assert_int_equal(s->events.n, 1);
        assert_int_equal(s->samples.n, 0);
        const HistoryEvent *he = history_ring_get(&s->events, 0);
        assert_int_equal(he->type, EVENT_STARTED);
        assert_int_equal(he->memory_bytes, 5);
        assert_int_equal(he->reason, RECYCLE_NONE);

        /* A recycle: the deciding figure, counted by reason, a sample of the worker and the dyno. */
        Event r = EVENT_INIT(EVENT_RECYCLED);
        r.worker = "w";
        r.realtime_usec = 20;
        r.reason = RECYCLE_BUDGET;
        r.memory_bytes = 97;
        r.memory_current_bytes = 99;
        r.budget_bytes = 100;
        history_sink_emit(h, &r);
        r.reason = RECYCLE_MANUAL;
        r.realtime_usec = 30;
        history_sink_emit(h, &r);
        r.reason = RECYCLE_BUDGET;
        r.realtime_usec = 40;
        history_sink_emit(h, &r);
        assert_int_equal(f.calls, 6);
        assert_int_equal(s->events.n, 4);
        he = history_ring_get(&s->events, 1);
        assert_int_equal(he->type, EVENT_RECYCLED);
        assert_int_equal(he->reason, RECYCLE_BUDGET);
        assert_int_equal(he->memory_bytes, 97);
        assert_int_equal(he->budget_bytes, 100);
        assert_int_equal(he->realtime_usec, 20);
        assert_int_equal(s->recycles[RECYCLE_BUDGET], 2);
        assert_int_equal(s->recycles[RECYCLE_MANUAL], 1);
        assert_int_equal(s->recycles[RECYCLE_PRESSURE], 0);
        assert_int_equal(s->samples.n, 3);
        const HistorySample *hs = history_ring_get(&s->samples, 2);
        assert_int_equal(hs->realtime_usec, 40);
        assert_int_equal(hs->memory_current_bytes, 90);
        assert_int_equal(hs->peak_bytes, 95);
        HistorySeries *d = history_find(h, HISTORY_DYNO);
        assert_non_null(d);
        assert_int_equal(d->samples.n, 3);
        assert_int_equal(((const HistorySample *) history_ring_get(&d->samples, 0))->memory_current_bytes, 900);
        assert_int_equal(d->events.n, 0);
        assert_int_equal(history_series_events_since(s, 21), 2);
        assert_int_equal(history_series_events_since(s, 41), 4);

        /* A node that cannot be read: the event is kept, no sample. */
        r.worker = "gone";
        history_sink_emit(h, &r);
        assert_int_equal(history_find(h, "gone")->events.n, 1);
        assert_int_equal(history_find(h, "gone")->samples.n, 0);

        /* No sampler at all, and a NULL history, are fine. */
        History *bare = history_new(NULL, NULL);
        history_sink_emit(bare, &r);
        assert_int_equal(history_find(bare, "gone")->samples.n, 0);
        history_free(bare);
        history_sink_emit(NULL, &r);
        history_free(h);
}

static void test_event_ring_bounded(void **state) {
        History *h = history_new(NULL, NULL);
        for (unsigned i = 0; i < HISTORY_EVENTS_MAX * 3; i++) {
                HistoryEvent e = {.realtime_usec = i, .type = EVENT_RECYCLED, .reason = RECYCLE_BUDGET};
                assert_int_equal(history_add_event(h, "w", &e), 0);
        }
        HistorySeries *s = history_find(h, "w");
        assert_int_equal(s->events.n, HISTORY_EVENTS_MAX);
        /* the counter is not bounded by the ring */
        assert_int_equal(s->recycles[RECYCLE_BUDGET], HISTORY_EVENTS_MAX * 3);
        assert_int_equal(((const HistoryEvent *) history_ring_get(&s->events, 0))->realtime_usec,
                         HISTORY_EVENTS_MAX * 2);
        history_free(h);
}

static void test_record_sizes(void **state) {
        /* history.h states the memory cost per worker from these. */
        assert_int_equal(sizeof(HistorySample), 48);
        assert_int_equal(sizeof(HistoryEvent), 32);
        assert_true(HISTORY_SAMPLES_MAX * sizeof(HistorySample) + HISTORY_EVENTS_MAX * sizeof(HistoryEvent) <=
                    36 * 1024);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_ring_grows_then_overwrites),
                cmocka_unit_test(test_ring_grows_when_wrapped),
                cmocka_unit_test(test_samples_bounded_and_since),
                cmocka_unit_test(test_memory_event_samples_coalesced),
                cmocka_unit_test(test_series_sorted_and_forgotten),
                cmocka_unit_test(test_sink),
                cmocka_unit_test(test_event_ring_bounded),
                cmocka_unit_test(test_record_sizes),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
