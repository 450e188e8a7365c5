/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The client's view of the daemon's memory history (Manager.GetHistory, include/cgwatch/cgwatch.h):
 * what cgwatchctl fetches, and what the pure renderers (plot-svg.h, openmetrics.h) draw. Plain
 * data; strings and arrays are borrowed. */

#include <stddef.h>
#include <stdint.h>

#include "history.h"

typedef struct HistoryViewEvent {
        usec_t realtime_usec;
        const char *type;   /* "recycled", "started", ... (cgwatch-events(7)) */
        const char *reason; /* the recycle reason, or "" */
        uint64_t memory_bytes;
        uint64_t budget_bytes; /* UINT64_MAX = none */
} HistoryViewEvent;

typedef struct HistoryView {
        const char *name; /* the worker; "" = the dyno */
        const HistorySample *samples;
        size_t n_samples;
        const HistoryViewEvent *events;
        size_t n_events;
} HistoryView;
