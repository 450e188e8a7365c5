/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* D-Bus: org.cgwatch1 on the system bus. Thin handlers: unpack, check the caller, call the owner
 * through BusOps, reply. As an event sink it emits WorkerRecycled and PropertiesChanged, the latter
 * coalesced once per loop iteration (bus-queue.h). Reads the worker table, never changes it. */

#include <stdbool.h>
#include <stdint.h>

#include <systemd/sd-bus.h>
#include <systemd/sd-event.h>

#include "amqp.h"
#include "cgroup.h"
#include "event.h"
#include "history.h"
#include "worker.h"

typedef struct Bus Bus;

typedef enum BusWorkerOp { BUS_OP_RECYCLE, BUS_OP_RESTART, BUS_OP_STOP, BUS_OP_START } BusWorkerOp;

typedef struct BusDynoFacts {
        uint64_t limit_bytes, recycle_at_bytes;
        const char *cgroup; /* the dyno's node, for its live figures */
} BusDynoFacts;

typedef struct BusOps {
        Worker *(*find_worker)(void *userdata, const char *name);
        size_t (*n_workers)(void *userdata);
        Worker *(*worker_at)(void *userdata, size_t i);
        void (*dyno)(void *userdata, BusDynoFacts *ret);
        /* The AMQP publisher's counters; false (and *ret zeroed) when [AMQP] is not configured. */
        bool (*amqp_stats)(void *userdata, AmqpStats *ret);
        /* The memory history (history.h): one series by name ("" = the dyno), NULL if none. */
        const History *(*history)(void *userdata);
        /* The writes (the caller's uid 0 is checked here first). Return 0 or a negative errno,
         * setting `error` for a precise message. */
        int (*set_budget)(void *userdata, Worker *w, uint64_t bytes, bool runtime, sd_bus_error *error);
        int (*worker_op)(void *userdata, Worker *w, BusWorkerOp op, sd_bus_error *error);
        int (*reload)(void *userdata, sd_bus_error *error);
} BusOps;

/* Connects to the system bus, publishes the objects, takes `bus_name`. Returns 0 with *ret, or 0
 * with *ret = NULL when there is no system bus (logged once), or a negative errno. */
int bus_open(sd_event *event, const CgroupRoot *root, const char *bus_name, const BusOps *ops, void *userdata,
             Bus **ret);
Bus *bus_free(Bus *b);
DEFINE_TRIVIAL_CLEANUP_FUNC(Bus *, bus_free);

/* The AMQP connection went up or down: PropertiesChanged for AmqpConnected. Accepts NULL. */
void bus_amqp_changed(Bus *b);

/* The event sink (announce.h's EventSinkFn); userdata is the Bus. */
void bus_sink_emit(void *userdata, const Event *e);
