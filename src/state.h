/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* What the daemon must not forget when it dies: every worker's main PID, incarnation counter,
 * restart tallies and backoff, runtime budget and any recycle in flight, written to
 * /run/cgwatch/<dyno>/state.json after every change (a temporary file, then rename(): a reader
 * sees the old file or the new one, never half of one). A restarted daemon reads it to re-adopt
 * the workers that survived it (manager-state.c). Format and parse are pure (buffers in, buffers
 * out); the file functions take a directory fd. Enums are stored as numbers: a change of their
 * order bumps STATE_VERSION, and a file of another version is not trusted. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "growth.h"
#include "shared/macro.h"

#define STATE_VERSION 1
#define STATE_FILE    "state.json"

typedef struct WorkerRecord {
        char *name;
        char *cgroup_path; /* the current incarnation's node */
        int state;         /* WorkerState */
        int intent;        /* WorkerIntent */
        pid_t pid;         /* 0 = no process */
        unsigned incarnation, restarts, recycles, consecutive_failures, generation, lifetimes;
        int recycle_reason, last_recycle_reason; /* RecycleReason */
        uint64_t budget_bytes, growth_bytes_per_sec;
        usec_t drain_usec, stop_usec, started_usec, started_realtime_usec;
        usec_t timer_usec; /* CLOCK_MONOTONIC deadline of the stop timeout, backoff or ready wait; 0 = none */
        bool drain_lifted;
        /* Who leaks (growth.h): the growth rates of its past lives and the verdict on them, so that
         * a verdict needs 3 lives, not 3 lives since the daemon's last start. Optional in the
         * file ("lives", "leaking", "leak_rate"): one written before they existed reads as no
         * lives yet. */
        LifeRates lives;
        bool leaking;
        int64_t leak_rate;
} WorkerRecord;

typedef struct GroupRecord {
        char *name; /* NULL: the dyno's own group */
        bool failed;
        usec_t *tally; /* CLOCK_MONOTONIC times of the restarts in its window */
        size_t n_tally;
} GroupRecord;

typedef struct DynoState {
        unsigned version;
        char *boot_id; /* /proc/sys/kernel/random/boot_id: CLOCK_MONOTONIC and PIDs mean nothing after a reboot */
        bool brake_released;
        bool shutting_down; /* the daemon was stopping every worker */
        WorkerRecord *workers;
        size_t n_workers;
        GroupRecord *groups;
        size_t n_groups;
} DynoState;

void dyno_state_done(DynoState *s);

/* JSON text of `s`. Returns 0 and *ret (free()), or -ENOMEM. */
int dyno_state_format(const DynoState *s, char **ret);

/* Parses the text. Returns 0 and *ret (dyno_state_done() it), -EBADMSG when it is not a state
 * file (not JSON, a field missing or of the wrong type, a worker without a name), -EPROTO when
 * its version is not STATE_VERSION, -ENOMEM. *ret is untouched on failure. */
int dyno_state_parse(const char *text, size_t len, DynoState *ret);

/* The worker's record by name, or NULL. */
const WorkerRecord *dyno_state_find_worker(const DynoState *s, const char *name);
const GroupRecord *dyno_state_find_group(const DynoState *s, const char *name);

/* Writes `text` to dirfd/STATE_FILE atomically (STATE_FILE.tmp, then rename). Returns 0 or a
 * negative errno. */
int dyno_state_write_at(int dirfd, const char *text);

/* Reads dirfd/STATE_FILE and parses it: what dyno_state_parse() returns, or -ENOENT when there is
 * no file, or another negative errno from reading it. */
int dyno_state_read_at(int dirfd, DynoState *ret);
