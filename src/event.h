/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* One record of something that happened to a worker, a supervisor or the dyno. Worker
 * operations return these as values (or report them to their owner when the kernel tells of an
 * exit); announce.c hands each one to every sink (journal, D-Bus, AMQP, history). An Event is
 * made only after the fact: nothing is announced that did not happen.
 *
 * Strings are borrowed from the producer and valid only during the announce call: a sink that
 * keeps an event copies what it needs (the AMQP sink serialises it at once). Pure header: no
 * syscalls in event.c. */

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "policy.h"
#include "shared/macro.h"
#include "supervisor.h"

typedef enum EventType {
        EVENT_STARTED,        /* a new incarnation was spawned into its node */
        EVENT_READY,          /* READY=1 arrived (or the worker needs no ready wait) */
        EVENT_RECYCLED,       /* a recycle was carried out: stop signal sent, or replacement spawned */
        EVENT_EXITED,         /* the main process of an incarnation is gone */
        EVENT_STOP_TIMEOUT,   /* no exit within StopTimeoutSec: the node was cgroup.kill-ed */
        EVENT_OOM_KILL,       /* the kernel's OOM killer acted inside the worker's own node */
        EVENT_STATE_CHANGED,  /* any state transition (old_state -> new_state) */
        EVENT_FAILED,         /* the worker entered state failed: its group gave up */
        EVENT_GAVE_UP,        /* a supervisor (or the dyno) exceeded its restart intensity */
        EVENT_BUDGET_CHANGED, /* MemoryBudget changed (D-Bus SetBudget or a reload) */
        EVENT_START_FAILED,   /* the daemon could not start an incarnation (error) */
        EVENT_LEAK_VERDICT,   /* it grew in each of its last 3 lives: it leaks (once per verdict) */
        _EVENT_TYPE_MAX,
} EventType;

typedef struct Event {
        EventType type;
        usec_t monotonic_usec; /* CLOCK_MONOTONIC when it happened */
        usec_t realtime_usec;  /* CLOCK_REALTIME, for sinks that leave the host */

        const char *worker;     /* "queuer@2"; NULL for an event of a group or of the dyno */
        const char *supervisor; /* the worker's group; NULL = the dyno itself */
        const char *cgroup;     /* the incarnation's node, relative to the cgroup mount */
        unsigned incarnation;   /* 1 for the first start, +1 per start */
        pid_t pid;              /* the incarnation's main PID; 0 if none */

        /* RECYCLED (and EXITED/STATE_CHANGED of a recycled incarnation): why. */
        RecycleReason reason;
        uint64_t memory_bytes;         /* the figure that decided it (unreclaimable, or current) */
        uint64_t memory_current_bytes; /* memory.current of the node */
        uint64_t budget_bytes;         /* the budget; UINT64_MAX = none. BUDGET_CHANGED: the new one */
        uint64_t old_budget_bytes;     /* BUDGET_CHANGED: the previous budget */
        uint64_t dyno_current_bytes;   /* the dyno's memory.current when it happened */
        uint64_t dyno_limit_bytes;
        usec_t detect_usec;   /* RECYCLED: when the kernel event behind it arrived; 0 = n/a */
        bool replacement;     /* RECYCLED: ReplaceFirst spawned the replacement first */
        uint64_t drain_high;  /* RECYCLED: memory.high lifted to this for the drain; 0 = left */
        uint64_t memory_high; /* STARTED: memory.high of the node (the tripwire below the budget) */

        /* EXITED: siginfo of the exit; planned = we had asked it to stop; replaced = it was the old
         * incarnation of a ReplaceFirst recycle (its replacement runs on). */
        int exit_code, exit_status;
        bool planned;
        bool replaced;

        /* STATE_CHANGED */
        WorkerState old_state, new_state;

        /* Counters after the event. */
        unsigned restarts, recycles;

        /* OOM_KILL: kills since the last report. */
        unsigned oom_kills;

        /* STOP_TIMEOUT: the StopTimeoutSec that passed. */
        usec_t timeout_usec;

        /* GAVE_UP */
        unsigned max_restarts;
        /* GAVE_UP of a supervisor: the one that takes the failure (its parent); NULL = the dyno.
         * GAVE_UP of the dyno itself (supervisor NULL): the daemon stops every worker and exits. */
        const char *escalated_to;
        usec_t restart_window_usec;

        /* LEAK_VERDICT (and EXITED): the growth rate of the lives behind the verdict (of the life
         * that ended), bytes per second; lives completed so far. */
        int64_t growth_bytes_per_sec;
        unsigned lifetimes;

        /* START_FAILED: negative errno; daemon_fault = the daemon's own failure (EMFILE, ENOMEM,
         * a cgroup it could not create), which never counts against the worker. */
        int error;
        bool daemon_fault;
} Event;

/* "started", "ready", "recycled", "exited", "stop-timeout", "oom-kill", "state-changed",
 * "failed", "gave-up", "budget-changed", "start-failed", "leak-verdict": the spelling used in AMQP routing keys
 * and CloudEvents types (org.cgwatch.worker.<name>). NULL for out-of-range. */
const char *event_type_to_string(EventType t);

/* An Event with every number at its "none" value (budgets UINT64_MAX, reason NONE). */
#define EVENT_INIT(t)                           \
        ((Event){                               \
                .type = (t),                    \
                .reason = RECYCLE_NONE,         \
                .budget_bytes = UINT64_MAX,     \
                .old_budget_bytes = UINT64_MAX, \
        })
