/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The fleet view's table (pure: no I/O, no clock reads): CloudEvents bodies of cgwatch-events(7)
 * in, one row per host/dyno/worker out, as text or JSON. ctl-fleet.c feeds it from a queue. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <json-c/json.h>

#include "shared/macro.h"

#define FLEET_REASONS_MAX 12

typedef struct FleetReason {
        char name[24];
        unsigned count;
} FleetReason;

typedef struct FleetWorker {
        char *host, *dyno, *worker;
        char state[16];      /* "" = not known yet */
        char last_event[24]; /* "recycled", "sample", ... */
        char last_time[40];  /* its CloudEvents time */
        char last_reason[24];
        bool have_memory;
        uint64_t memory_current_bytes;
        uint64_t budget_bytes; /* UINT64_MAX = none */
        unsigned incarnation, restarts, recycles;
        bool leaking;
        int64_t leak_rate_bytes_per_sec;
        FleetReason reasons[FLEET_REASONS_MAX]; /* recycles heard of, by reason */
        size_t n_reasons;
        unsigned messages;
} FleetWorker;

typedef struct Fleet {
        FleetWorker **workers;
        size_t n_workers;
        uint64_t messages, ignored; /* ignored: not JSON, or not cgwatch's */
} Fleet;

/* Takes one message body. Returns 1 if it was cgwatch's and counted, 0 if it was ignored (not
 * JSON, no data.host/dyno, an event of a supervisor or the dyno, which names no worker), or
 * -ENOMEM. */
int fleet_add(Fleet *f, const char *body, size_t len);

/* The rows sorted by host, dyno, worker. */
void fleet_sort(Fleet *f);

/* Prints the table; rates are recycles per hour over `listened_sec`. */
void fleet_print(const Fleet *f, double listened_sec, FILE *out);

/* {"listened_sec":..., "messages":..., "hosts":{HOST:{"dynos":{DYNO:{"workers":{WORKER:{...}}}}}}}.
 * Returns a new object, or NULL on OOM. */
json_object *fleet_to_json(const Fleet *f, double listened_sec);

void fleet_done(Fleet *f);
