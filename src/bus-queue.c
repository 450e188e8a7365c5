/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "bus-queue.h"

static const struct {
        WorkerProperty bit;
        const char *name;
} property_names[] = {
        {WPROP_STATE, "State"},
        {WPROP_MAIN_PID, "MainPID"},
        {WPROP_RESTARTS, "Restarts"},
        {WPROP_RECYCLES, "Recycles"},
        {WPROP_LAST_RECYCLE_REASON, "LastRecycleReason"},
        {WPROP_MEMORY_BUDGET, "MemoryBudget"},
        {WPROP_CONTROL_GROUP, "ControlGroup"},
        {WPROP_START_TIMESTAMP, "StartTimestamp"},
        {WPROP_LEAK_VERDICT, "LeakVerdict"},
        {WPROP_LEAK_RATE, "LeakRate"},
        {WPROP_LIFETIMES, "Lifetimes"},
};

const char *worker_property_name(WorkerProperty p) {
        for (size_t i = 0; i < ELEMENTSOF(property_names); i++)
                if (property_names[i].bit == p)
                        return property_names[i].name;
        return NULL;
}

unsigned worker_properties_changed_by(const Event *e) {
        if (!e->worker)
                return 0;
        switch (e->type) {
        case EVENT_STATE_CHANGED:
                /* Restarts is counted on the way into backoff. */
                return WPROP_STATE | WPROP_MAIN_PID | WPROP_RESTARTS;
        case EVENT_STARTED:
                /* A ReplaceFirst incarnation runs in a fresh node. */
                return WPROP_MAIN_PID | WPROP_CONTROL_GROUP | WPROP_START_TIMESTAMP;
        case EVENT_RECYCLED:
                return WPROP_RECYCLES | WPROP_LAST_RECYCLE_REASON;
        case EVENT_EXITED:
                return WPROP_MAIN_PID | WPROP_LIFETIMES | WPROP_LEAK_VERDICT | WPROP_LEAK_RATE;
        case EVENT_LEAK_VERDICT:
                return WPROP_LEAK_VERDICT | WPROP_LEAK_RATE;
        case EVENT_BUDGET_CHANGED:
                return WPROP_MEMORY_BUDGET;
        default:
                return 0;
        }
}

int bus_queue_mark(BusQueue *q, const char *worker, unsigned mask) {
        if (mask == 0)
                return 0;
        for (size_t i = 0; i < q->n; i++)
                if (strcmp(q->entries[i].worker, worker) == 0) {
                        q->entries[i].mask |= mask;
                        return 0;
                }
        if (q->n == q->allocated) {
                size_t na = q->allocated ? q->allocated * 2 : 8;
                BusQueueEntry *ne = realloc(q->entries, na * sizeof *ne);
                if (!ne)
                        return -ENOMEM;
                q->entries = ne;
                q->allocated = na;
        }
        char *copy = strdup(worker);
        if (!copy)
                return -ENOMEM;
        q->entries[q->n++] = (BusQueueEntry){.worker = copy, .mask = mask};
        return q->n == 1;
}

void bus_queue_clear(BusQueue *q) {
        for (size_t i = 0; i < q->n; i++)
                free(q->entries[i].worker);
        q->n = 0;
}

void bus_queue_done(BusQueue *q) {
        bus_queue_clear(q);
        free(q->entries);
        *q = (BusQueue){};
}
