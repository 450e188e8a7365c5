/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Supervision decisions, pure: the worker state machine (one table, in the manner of
 * s6-supervise's actions[state][event]), restart intensity (a death tally over a sliding
 * window), exponential backoff, and which siblings a strategy takes down. The manager owns the
 * side effects; everything here takes `now` and is unit-tested with an explicit clock. */

#include <stdbool.h>
#include <stddef.h>

#include "config.h"
#include "shared/macro.h"

typedef enum WorkerState {
        WORKER_STOPPED,
        WORKER_STARTING, /* spawned, waiting for READY=1 (only when a ready wait is needed) */
        WORKER_RUNNING,
        WORKER_STOPPING, /* stop signal sent, waiting for the exit (then cgroup.kill) */
        WORKER_BACKOFF,  /* died, restart scheduled */
        WORKER_FAILED,   /* its group gave up on it */
        _WORKER_STATE_MAX,
} WorkerState;

typedef enum WorkerEvent {
        WEV_START,          /* spawn requested and done */
        WEV_READY,          /* READY=1, or spawned when no ready wait is needed */
        WEV_STOP,           /* stop signal sent */
        WEV_EXIT_RESTART,   /* main process gone; a restart will follow after a delay */
        WEV_EXIT_DONE,      /* main process gone; stays down */
        WEV_BACKOFF_CANCEL, /* stop requested while waiting to restart */
        WEV_FAIL,           /* the group's restart intensity was exceeded */
        _WORKER_EVENT_MAX,
} WorkerEvent;

/* "stopped", "starting", "running", "stopping", "backoff", "failed" (the D-Bus spelling). */
const char *worker_state_to_string(WorkerState s);
const char *worker_event_to_string(WorkerEvent e);

/* The one place transitions live. Returns 0 and *ret = the next state, or -EINVAL if `e` makes
 * no sense in `s` (callers treat that as a bug and log it). */
int worker_state_next(WorkerState s, WorkerEvent e, WorkerState *ret);

/* True while a process may exist for the worker. */
bool worker_state_is_active(WorkerState s);

/* What is to happen when the worker's current incarnation exits: one intent instead of a handful
 * of flags. A stop request only ever raises it: REMOVE > FAIL > STOP > RESTART > NONE, so an
 * explicit stop during a recycle's drain keeps the worker down, and a worker dropped from the
 * config is never brought back by a sibling's strategy. A new incarnation starts at NONE. */
typedef enum WorkerIntent {
        INTENT_NONE,    /* nobody asked it to stop: an exit is unplanned, the supervisor judges it */
        INTENT_RESTART, /* stop asked, start again at once (recycle, restart, strategy, config change) */
        INTENT_STOP,    /* stop asked, stay down (StopWorker, daemon shutdown) */
        INTENT_FAIL,    /* its group gave up: stay down in state failed */
        INTENT_REMOVE,  /* gone from the configuration: stay down, then be freed */
        _WORKER_INTENT_MAX,
} WorkerIntent;

const char *worker_intent_to_string(WorkerIntent i);

/* The stronger of the two intents (see the order above). */
WorkerIntent worker_intent_merge(WorkerIntent current, WorkerIntent requested);

typedef enum ExitOutcome {
        EXIT_OUTCOME_JUDGE,     /* unplanned: restart policy, backoff and restart intensity decide */
        EXIT_OUTCOME_RESTART,   /* planned restart: start the next incarnation now */
        EXIT_OUTCOME_STAY_DOWN, /* -> stopped */
        EXIT_OUTCOME_FAIL,      /* -> failed */
        EXIT_OUTCOME_REMOVE,    /* -> stopped, then freed */
        _EXIT_OUTCOME_MAX,
} ExitOutcome;

/* What follows an exit, from the intent alone; while the daemon shuts down nothing restarts.
 * The state event to feed worker_state_next() is WEV_EXIT_RESTART for RESTART (and for JUDGE when
 * a restart follows), WEV_EXIT_DONE for STAY_DOWN and REMOVE, WEV_EXIT_DONE then WEV_FAIL for FAIL. */
ExitOutcome worker_exit_outcome(WorkerIntent intent, bool shutting_down);

/* Restart intensity: remembers when recent restarts happened. */
#define RESTART_TALLY_MAX 1024
typedef struct RestartTally {
        usec_t at[RESTART_TALLY_MAX]; /* ring buffer of restart times */
        size_t start, n;
} RestartTally;

/* Forgets restarts older than `window_usec` before `now`, records one at `now`, and returns true
 * when the window now holds more than `max_restarts` restarts: the group must fail. */
bool restart_tally_add(RestartTally *t, usec_t now, unsigned max_restarts, usec_t window_usec);
size_t restart_tally_count(const RestartTally *t, usec_t now, usec_t window_usec);
void restart_tally_reset(RestartTally *t);

/* Escalation, as in Erlang/OTP: a supervisor that exceeded its restart intensity terminates its
 * children and fails; its parent sees that as one child's death, counts it as one restart against
 * its own intensity and restarts the failed child, or fails in turn. levels[0] is the failed
 * group's parent, levels[n - 1] the dyno at the top. Records one restart at `now` in each level
 * until one holds, and returns how many failed on the way: i < n means levels[i] absorbs it (it
 * restarts the child below it); n means the dyno itself failed. n == 0 (the dyno was the one that
 * failed) returns 0, which is n. */
typedef struct SupervisorLevel {
        RestartTally *tally;
        unsigned max_restarts;
        usec_t window_usec;
} SupervisorLevel;

size_t supervision_escalate(const SupervisorLevel *levels, size_t n, usec_t now);

/* Backoff before restart number `consecutive` (1 = first failure): base * 2^(consecutive-1),
 * capped at `cap`. consecutive == 0 -> 0. */
usec_t backoff_delay_usec(unsigned consecutive, usec_t base_usec, usec_t cap_usec);

/* A start that failed on the daemon's own account (EMFILE, ENOMEM, EIO or ENOSPC creating the
 * node, clone3): the worker did nothing, so nothing is recorded in any restart tally (the worker's
 * or its groups') and its own backoff counter is untouched. It is retried after
 * daemon_fault_delay_usec(faults in a row): 100 ms doubling up to 5 s, so a dyno that ran out of
 * fds or memory for a moment picks itself up within seconds of the cause going away. */
#define DAEMON_FAULT_MIN_DELAY_USEC (100 * USEC_PER_MSEC)
#define DAEMON_FAULT_MAX_DELAY_USEC (5 * USEC_PER_SEC)
usec_t daemon_fault_delay_usec(unsigned faults_in_a_row);

/* Whether an exit that nobody asked for deserves a restart under `p`. `success` is exit code 0
 * (a clean exit); a death by signal or a non-zero code is a failure. */
bool restart_wanted(RestartPolicy p, bool success);

/* Which of a group's `n` workers (in config order) must be taken down and restarted when worker
 * `failed` dies: one-for-one marks only it, one-for-all all of them, rest-for-one it and every
 * worker after it. Fills ret_affected[0..n-1]. */
void strategy_affected(Strategy s, size_t n, size_t failed, bool *ret_affected);
