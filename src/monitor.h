/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The monitor observes and nothing else: it owns the kernel event sources (memory.events and PSI
 * trigger fds of every watched node, the one deadline timer) and keeps the latest figures of each
 * node. When the kernel says something changed it queues one evaluation pass (a defer source, so a
 * burst of notifications from several files costs one pass) and calls the owner's evaluate
 * function; it calls no worker operation. Nothing polls: the kernel rate-limits cgroup file
 * notifications to about one per 10 ms per file, and samples are read only after an event. */

#include <stdbool.h>
#include <stdint.h>

#include <systemd/sd-event.h>

#include "cgroup-parse.h"
#include "cgroup.h"
#include "config.h"

typedef struct Monitor Monitor;
typedef struct MemoryWatch MemoryWatch;

/* Called from the event loop, at most once per loop iteration, with the arrival time of the
 * earliest kernel event behind this pass (CLOCK_MONOTONIC), or 0 for a pass asked for by code. */
typedef void (*MonitorEvaluateFn)(void *userdata, usec_t trigger_usec);

typedef struct MemorySample {
        bool valid;             /* read since the incarnation started */
        uint64_t current;       /* memory.current */
        uint64_t unreclaimable; /* memory_unreclaimable_bytes() */
        uint64_t anon, file;    /* memory.stat */
        uint64_t peak;          /* memory.peak (0 on kernels without it) */
        double pressure_some_avg10;
} MemorySample;

struct MemoryWatch {
        Monitor *monitor;
        char *path;
        int events_fd; /* memory.events, POLLPRI */
        int psi_fd;    /* memory.pressure trigger; -EBADF if off */
        sd_event_source *events_source, *psi_source;
        MemoryEvents events;    /* last read */
        uint64_t oom_kill_base; /* oom_kill when the watch was opened */
        uint64_t oom_kill_seen; /* oom_kill already handed to the owner */
        usec_t high_usec;       /* last time high or max grew (the node's limit was hit); 0 = never */
        bool dirty;             /* an event arrived: re-read before deciding */
        bool pressure_fired;    /* the PSI trigger fired since the owner last cleared it */
        MemorySample sample;
};

int monitor_new(sd_event *event, const CgroupRoot *root, MonitorEvaluateFn evaluate, void *userdata, Monitor **ret);
Monitor *monitor_free(Monitor *m);
DEFINE_TRIVIAL_CLEANUP_FUNC(Monitor *, monitor_free);

/* Watches a node: memory.events (memory.events.local when `local`: only the node's own limits,
 * not its descendants'), and a PSI trigger when pc->stall_usec > 0. The first sample is due at
 * once (dirty). Returns 0 and *ret, or a negative errno (nothing left open). */
int monitor_watch_open(Monitor *m, const char *path, bool local, const PressureConfig *pc, MemoryWatch **ret);
MemoryWatch *monitor_watch_free(MemoryWatch *w);
DEFINE_TRIVIAL_CLEANUP_FUNC(MemoryWatch *, monitor_watch_free);

/* Re-reads memory.current, memory.stat, memory.peak and, if its trigger fired, memory.pressure.
 * Returns 0, or a negative errno (-ENOENT/-ENODEV: the node is gone) with the sample untouched. */
int monitor_watch_sample(MemoryWatch *w);

/* Re-reads memory.events now (an exit can arrive before the kernel's notification of the OOM
 * kill that caused it). Returns 0 or a negative errno (the figures untouched). */
int monitor_watch_refresh_events(MemoryWatch *w);
/* OOM kills inside the node since the watch was opened (this incarnation), from memory.events
 * oom_kill as last read. */
uint64_t monitor_watch_oom_kills_total(const MemoryWatch *w);

/* OOM kills inside the node since the last call (from memory.events oom_kill). */
uint64_t monitor_watch_take_oom_kills(MemoryWatch *w);

/* Queues one evaluation pass; `trigger_usec` is when its cause arrived (0 = now). */
void monitor_queue(Monitor *m, usec_t trigger_usec);

/* Arms the one timer for time-based rules at `deadline` (CLOCK_MONOTONIC); USEC_INFINITY turns
 * it off, so an idle daemon does not wake up. When it fires, a pass is queued. */
void monitor_arm_deadline(Monitor *m, usec_t deadline);

/* cpu.stat usage_usec of a node. */
int monitor_read_cpu_usage(Monitor *m, const char *path, uint64_t *ret_usec);
