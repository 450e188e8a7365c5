/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Memory over time: a bounded ring of samples and a bounded ring of events per worker and for
 * the dyno, kept by the daemon for `cgwatchctl history`, `plot` and `metrics` (D-Bus GetHistory).
 *
 * Samples (memory.current, anon, file, peak, budget, wall clock) come from the manager at every
 * SampleIntervalSec, at memory events (at most one per HISTORY_EVENT_SAMPLE_GAP_USEC per series,
 * since the kernel notifies a worker held at its tripwire every ~10 ms) and at every recycle.
 * Events arrive through history_sink_emit(), a sink of the announcer like the journal and the bus.
 *
 * Fixed size: HISTORY_SAMPLES_MAX samples (48 bytes each) and HISTORY_EVENTS_MAX events (32
 * bytes each) per series, the oldest overwritten first: at most 36 KiB per worker, allocated as
 * it fills (a worker that is never sampled holds a few hundred bytes). At SampleIntervalSec=5s
 * that is the last hour; memory-event samples shorten it.
 *
 * Pure: no syscalls, no clock reads (callers pass the time). The ring and the lookups are
 * unit-tested in tests/unit/test-history.c. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "event.h"
#include "policy.h"
#include "shared/macro.h"

#define HISTORY_SAMPLES_MAX           720
#define HISTORY_EVENTS_MAX            64
#define HISTORY_EVENT_SAMPLE_GAP_USEC USEC_PER_SEC
#define HISTORY_DYNO                  "" /* the dyno's series name */

typedef struct HistorySample {
        usec_t realtime_usec; /* CLOCK_REALTIME of the reading */
        uint64_t memory_current_bytes;
        uint64_t anon_bytes, file_bytes; /* memory.stat */
        uint64_t peak_bytes;             /* memory.peak; 0 = unknown */
        uint64_t budget_bytes;           /* the worker's MemoryBudget; the dyno's MemoryLimit; UINT64_MAX = none */
} HistorySample;

typedef struct HistoryEvent {
        usec_t realtime_usec;
        uint8_t type;          /* EventType */
        uint8_t reason;        /* RecycleReason; RECYCLE_NONE unless recycled (or the exit of a recycle) */
        uint64_t memory_bytes; /* RECYCLED: the figure that decided it; else memory.current */
        uint64_t budget_bytes; /* UINT64_MAX = none */
} HistoryEvent;

/* A ring of fixed-size records, grown by doubling (from 8) up to `max`, then overwriting the
 * oldest. */
typedef struct HistoryRing {
        uint8_t *items;
        size_t item_size, max;
        size_t cap, start, n;
        uint64_t overwritten; /* records lost to the bound */
} HistoryRing;

void history_ring_init(HistoryRing *r, size_t item_size, size_t max);
void history_ring_done(HistoryRing *r);
/* Appends a copy of item, overwriting the oldest when full. Returns 0, or -ENOMEM (nothing
 * changed). */
int history_ring_push(HistoryRing *r, const void *item);
/* The i-th record, oldest first (i < r->n); NULL when out of range. */
const void *history_ring_get(const HistoryRing *r, size_t i);

typedef struct HistorySeries {
        char *name;          /* the worker's name; HISTORY_DYNO for the dyno */
        HistoryRing samples; /* HistorySample */
        HistoryRing events;  /* HistoryEvent */
        usec_t last_event_sample_usec;
        /* Since the daemon started (not bounded by the ring): for OpenMetrics counters. */
        uint64_t recycles[_RECYCLE_REASON_MAX];
} HistorySeries;

/* Index of the first record at or after since_usec (records are in arrival order, which is time
 * order unless the wall clock was set back); s->samples.n (or events.n) when none is. */
size_t history_series_samples_since(const HistorySeries *s, usec_t since_usec);
size_t history_series_events_since(const HistorySeries *s, usec_t since_usec);

/* How a recycle's sample is taken: the manager reads the node's figures. Returns 0 and *ret, or
 * a negative errno (no sample is recorded). name is HISTORY_DYNO for the dyno. */
typedef int (*HistorySampleFn)(void *userdata, const char *name, HistorySample *ret);

typedef struct History {
        HistorySeries **series; /* sorted by name, for bsearch: no O(n) work per event */
        size_t n;
        HistorySampleFn sample;
        void *userdata;
} History;

typedef enum HistoryCause {
        HISTORY_PERIODIC,     /* SampleIntervalSec: always recorded */
        HISTORY_MEMORY_EVENT, /* the kernel told of a change: at most one per gap */
        HISTORY_AT_EVENT,     /* taken at a recycle: always recorded */
} HistoryCause;

/* Returns a new History, or NULL on OOM. sample may be NULL (recycles then record no sample). */
History *history_new(HistorySampleFn sample, void *userdata);
History *history_free(History *h);
DEFINE_TRIVIAL_CLEANUP_FUNC(History *, history_free);

/* The series of `name`, or NULL when there is none. */
HistorySeries *history_find(const History *h, const char *name);

/* Records a sample of `name` (created on first use). Returns 1 if recorded, 0 if it was a memory
 * event sample within HISTORY_EVENT_SAMPLE_GAP_USEC of the previous one (coalesced), -ENOMEM. */
int history_add_sample(History *h, const char *name, const HistorySample *s, HistoryCause cause);

/* Records an event of `name` (created on first use); a RECYCLED one is counted by reason. Returns
 * 0 or -ENOMEM. */
int history_add_event(History *h, const char *name, const HistoryEvent *e);

/* Forgets a worker gone from the configuration. */
void history_forget(History *h, const char *name);

/* The announcer's sink (userdata: the History). Keeps events of workers (started, recycled,
 * exited, stop-timeout, oom-kill, failed, budget-changed, start-failed, leak-verdict; not ready or
 * state changes); at a recycle it also records a sample of the worker and of the dyno. */
void history_sink_emit(void *userdata, const Event *e);
