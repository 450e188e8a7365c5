/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* Bounded rings of memory samples and events per worker and for the dyno (see history.h). */

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "history.h"

#define HISTORY_RING_MIN 8

void history_ring_init(HistoryRing *r, size_t item_size, size_t max) {
        *r = (HistoryRing){.item_size = item_size, .max = max};
}

void history_ring_done(HistoryRing *r) {
        r->items = mfree(r->items);
        r->cap = r->start = r->n = 0;
}

/* Grows to twice the size (at most max), moving the records so that the oldest is first. */
static int history_ring_grow(HistoryRing *r) {
        size_t cap = r->cap == 0 ? MIN((size_t) HISTORY_RING_MIN, r->max) : MIN(r->cap * 2, r->max);
        uint8_t *items = malloc(cap * r->item_size);

        if (!items)
                return -ENOMEM;
        for (size_t i = 0; i < r->n; i++)
                memcpy(items + i * r->item_size, history_ring_get(r, i), r->item_size);
        free(r->items);
        r->items = items;
        r->cap = cap;
        r->start = 0;
        return 0;
}

int history_ring_push(HistoryRing *r, const void *item) {
        if (r->max == 0)
                return 0;
        if (r->n == r->cap && r->cap < r->max) {
                int k = history_ring_grow(r);
                if (k < 0)
                        return k;
        }
        if (r->n == r->cap) { /* full at max: the oldest goes */
                memcpy(r->items + r->start * r->item_size, item, r->item_size);
                r->start = (r->start + 1) % r->cap;
                r->overwritten++;
                return 0;
        }
        memcpy(r->items + ((r->start + r->n) % r->cap) * r->item_size, item, r->item_size);
        r->n++;
        return 0;
}

const void *history_ring_get(const HistoryRing *r, size_t i) {
        if (i >= r->n)
                return NULL;
        return r->items + ((r->start + i) % r->cap) * r->item_size;
}

size_t history_series_samples_since(const HistorySeries *s, usec_t since_usec) {
        size_t i = s->samples.n;
        /* From the newest back: a query usually asks for the recent end. */
        while (i > 0 && ((const HistorySample *) history_ring_get(&s->samples, i - 1))->realtime_usec >= since_usec)
                i--;
        return i;
}

size_t history_series_events_since(const HistorySeries *s, usec_t since_usec) {
        size_t i = s->events.n;
        while (i > 0 && ((const HistoryEvent *) history_ring_get(&s->events, i - 1))->realtime_usec >= since_usec)
                i--;
        return i;
}

static HistorySeries *series_free(HistorySeries *s) {
        if (!s)
                return NULL;
        history_ring_done(&s->samples);
        history_ring_done(&s->events);
        free(s->name);
        free(s);
        return NULL;
}

History *history_new(HistorySampleFn sample, void *userdata) {
        History *h = calloc(1, sizeof *h);
        if (!h)
                return NULL;
        h->sample = sample;
        h->userdata = userdata;
        return h;
}

History *history_free(History *h) {
        if (!h)
                return NULL;
        for (size_t i = 0; i < h->n; i++)
                series_free(h->series[i]);
        free(h->series);
        free(h);
        return NULL;
}

/* Where `name` is, or would be inserted: the first index whose name is not below it. */
static size_t history_lower_bound(const History *h, const char *name) {
        size_t lo = 0, hi = h->n;
        while (lo < hi) {
                size_t mid = lo + (hi - lo) / 2;
                if (strcmp(h->series[mid]->name, name) < 0)
                        lo = mid + 1;
                else
                        hi = mid;
        }
        return lo;
}

HistorySeries *history_find(const History *h, const char *name) {
        size_t i = history_lower_bound(h, name);
        return i < h->n && strcmp(h->series[i]->name, name) == 0 ? h->series[i] : NULL;
}

static HistorySeries *history_get(History *h, const char *name) {
        size_t i = history_lower_bound(h, name);
        HistorySeries *s, **ns;

        if (i < h->n && strcmp(h->series[i]->name, name) == 0)
                return h->series[i];
        s = calloc(1, sizeof *s);
        if (!s || !(s->name = strdup(name)))
                return series_free(s);
        history_ring_init(&s->samples, sizeof(HistorySample), HISTORY_SAMPLES_MAX);
        history_ring_init(&s->events, sizeof(HistoryEvent), HISTORY_EVENTS_MAX);
        ns = realloc(h->series, (h->n + 1) * sizeof *ns);
        if (!ns)
                return series_free(s);
        h->series = ns;
        memmove(h->series + i + 1, h->series + i, (h->n - i) * sizeof *ns);
        h->series[i] = s;
        h->n++;
        return s;
}

int history_add_sample(History *h, const char *name, const HistorySample *sample, HistoryCause cause) {
        HistorySeries *s = history_get(h, name);
        int r;

        if (!s)
                return -ENOMEM;
        if (cause == HISTORY_MEMORY_EVENT && s->last_event_sample_usec > 0 &&
            sample->realtime_usec < s->last_event_sample_usec + HISTORY_EVENT_SAMPLE_GAP_USEC &&
            sample->realtime_usec >= s->last_event_sample_usec)
                return 0;
        r = history_ring_push(&s->samples, sample);
        if (r < 0)
                return r;
        if (cause == HISTORY_MEMORY_EVENT)
                s->last_event_sample_usec = sample->realtime_usec;
        return 1;
}

int history_add_event(History *h, const char *name, const HistoryEvent *e) {
        HistorySeries *s = history_get(h, name);

        if (!s)
                return -ENOMEM;
        if (e->type == EVENT_RECYCLED && e->reason < _RECYCLE_REASON_MAX)
                s->recycles[e->reason]++;
        return history_ring_push(&s->events, e);
}

void history_forget(History *h, const char *name) {
        size_t i = history_lower_bound(h, name);

        if (i >= h->n || strcmp(h->series[i]->name, name) != 0)
                return;
        series_free(h->series[i]);
        memmove(h->series + i, h->series + i + 1, (h->n - i - 1) * sizeof *h->series);
        h->n--;
}

static bool history_keeps(EventType t) {
        switch (t) {
        case EVENT_STARTED:
        case EVENT_RECYCLED:
        case EVENT_EXITED:
        case EVENT_STOP_TIMEOUT:
        case EVENT_OOM_KILL:
        case EVENT_FAILED:
        case EVENT_BUDGET_CHANGED:
        case EVENT_START_FAILED:
        case EVENT_LEAK_VERDICT:
                return true;
        default:
                return false;
        }
}

static void history_sample_now(History *h, const char *name, usec_t realtime_usec) {
        HistorySample s;
        if (!h->sample || h->sample(h->userdata, name, &s) < 0)
                return;
        s.realtime_usec = realtime_usec;
        (void) history_add_sample(h, name, &s, HISTORY_AT_EVENT);
}

void history_sink_emit(void *userdata, const Event *e) {
        History *h = userdata;

        if (!h || !e->worker || !history_keeps(e->type))
                return;
        HistoryEvent he = {
                .realtime_usec = e->realtime_usec,
                .type = (uint8_t) e->type,
                .reason = (uint8_t) (e->reason < _RECYCLE_REASON_MAX ? e->reason : RECYCLE_NONE),
                .memory_bytes = e->type == EVENT_RECYCLED ? e->memory_bytes : e->memory_current_bytes,
                .budget_bytes = e->budget_bytes,
        };
        if (e->type == EVENT_RECYCLED) {
                history_sample_now(h, e->worker, e->realtime_usec);
                history_sample_now(h, HISTORY_DYNO, e->realtime_usec);
        }
        (void) history_add_event(h, e->worker, &he);
}
