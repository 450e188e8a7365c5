/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The D-Bus sink's queue of PropertiesChanged, coalesced per loop iteration as systemd's bus queue
 * does: events only mark which properties of which worker changed; one flush at the end of the
 * iteration emits one PropertiesChanged per worker, whose values are read at that moment (so it
 * carries the final values). Pure: no bus calls here. */

#include <stddef.h>

#include "event.h"

typedef enum WorkerProperty {
        WPROP_STATE = 1u << 0,
        WPROP_MAIN_PID = 1u << 1,
        WPROP_RESTARTS = 1u << 2,
        WPROP_RECYCLES = 1u << 3,
        WPROP_LAST_RECYCLE_REASON = 1u << 4,
        WPROP_MEMORY_BUDGET = 1u << 5,
        WPROP_CONTROL_GROUP = 1u << 6,
        WPROP_START_TIMESTAMP = 1u << 7,
        WPROP_LEAK_VERDICT = 1u << 8,
        WPROP_LEAK_RATE = 1u << 9,
        WPROP_LIFETIMES = 1u << 10,
        _WPROP_ALL = (1u << 11) - 1,
} WorkerProperty;

/* The D-Bus name of one property bit ("State", ...); NULL if `p` is not exactly one known bit. */
const char *worker_property_name(WorkerProperty p);

/* Which worker properties an event changes (0 for events of no worker). */
unsigned worker_properties_changed_by(const Event *e);

typedef struct BusQueueEntry {
        char *worker;
        unsigned mask;
} BusQueueEntry;

typedef struct BusQueue {
        BusQueueEntry *entries;
        size_t n, allocated;
} BusQueue;

/* Adds `mask` to the worker's pending set (one entry per worker). Returns 1 if this made the queue
 * non-empty (the caller arms the flush), 0 otherwise, -ENOMEM. */
int bus_queue_mark(BusQueue *q, const char *worker, unsigned mask);
/* Forgets everything pending (after a flush). */
void bus_queue_clear(BusQueue *q);
void bus_queue_done(BusQueue *q);
