/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The one road events take: producers hand an Event to announce_event(), which hands it to every
 * sink registered at start-up, in registration order, exactly once each. A new sink (AMQP,
 * history) is one announce_add_sink() call in the manager; no producer changes. Pure: no
 * syscalls, no allocation after set-up. */

#include <stddef.h>
#include <stdint.h>

#include "event.h"

#define ANNOUNCE_SINKS_MAX 8

typedef void (*EventSinkFn)(void *userdata, const Event *e);

typedef struct EventSink {
        const char *name; /* "journal", "bus", ...: for debugging */
        EventSinkFn emit;
        void *userdata;
} EventSink;

typedef struct Announcer {
        EventSink sinks[ANNOUNCE_SINKS_MAX];
        size_t n_sinks;
        uint64_t n_events[_EVENT_TYPE_MAX]; /* announced so far, by type */
} Announcer;

/* Registers a sink. Returns 0, -EINVAL for a NULL function, -ENOSPC when ANNOUNCE_SINKS_MAX
 * sinks are registered already. */
int announce_add_sink(Announcer *a, const char *name, EventSinkFn emit, void *userdata);

/* Hands `e` to every sink. An event with an out-of-range type is a bug and is dropped. */
void announce_event(Announcer *a, const Event *e);
