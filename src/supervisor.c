/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <errno.h>
#include <string.h>

#include "supervisor.h"

static const char *const worker_state_table[_WORKER_STATE_MAX] = {
        [WORKER_STOPPED] = "stopped",   [WORKER_STARTING] = "starting", [WORKER_RUNNING] = "running",
        [WORKER_STOPPING] = "stopping", [WORKER_BACKOFF] = "backoff",   [WORKER_FAILED] = "failed",
};

static const char *const worker_event_table[_WORKER_EVENT_MAX] = {
        [WEV_START] = "start",         [WEV_READY] = "ready",
        [WEV_STOP] = "stop",           [WEV_EXIT_RESTART] = "exit-restart",
        [WEV_EXIT_DONE] = "exit-done", [WEV_BACKOFF_CANCEL] = "backoff-cancel",
        [WEV_FAIL] = "fail",
};

const char *worker_state_to_string(WorkerState s) {
        return s >= 0 && s < _WORKER_STATE_MAX ? worker_state_table[s] : NULL;
}

const char *worker_event_to_string(WorkerEvent e) {
        return e >= 0 && e < _WORKER_EVENT_MAX ? worker_event_table[e] : NULL;
}

/* -1 marks a transition that must not happen. Read a row as "in this state, on this event, go
 * there". FAILED is left only by an explicit start (StartWorker, or a reload). The EXIT events
 * from STOPPED/BACKOFF/FAILED are a spawn that failed before any process existed: it is
 * judged like a death. */
/* clang-format off */
#define X (-1)
static const int transitions[_WORKER_STATE_MAX][_WORKER_EVENT_MAX] = {
        /*                  START            READY           STOP             EXIT_RESTART    EXIT_DONE       BACKOFF_CANCEL  FAIL */
        [WORKER_STOPPED] = { WORKER_STARTING, X,              X,               WORKER_BACKOFF, WORKER_STOPPED, X,              WORKER_FAILED },
        [WORKER_STARTING] = { X,              WORKER_RUNNING, WORKER_STOPPING, WORKER_BACKOFF, WORKER_STOPPED, X,              WORKER_FAILED },
        [WORKER_RUNNING] = { X,               X,              WORKER_STOPPING, WORKER_BACKOFF, WORKER_STOPPED, X,              WORKER_FAILED },
        [WORKER_STOPPING] = { X,              X,              WORKER_STOPPING, WORKER_BACKOFF, WORKER_STOPPED, X,              WORKER_FAILED },
        [WORKER_BACKOFF] = { WORKER_STARTING, X,              X,               WORKER_BACKOFF, WORKER_STOPPED, WORKER_STOPPED, WORKER_FAILED },
        [WORKER_FAILED] = { WORKER_STARTING,  X,              X,               WORKER_BACKOFF, WORKER_FAILED,  WORKER_FAILED,  WORKER_FAILED },
};
#undef X
/* clang-format on */

int worker_state_next(WorkerState s, WorkerEvent e, WorkerState *ret) {
        if (s < 0 || s >= _WORKER_STATE_MAX || e < 0 || e >= _WORKER_EVENT_MAX)
                return -EINVAL;
        int n = transitions[s][e];
        if (n < 0)
                return -EINVAL;
        *ret = (WorkerState) n;
        return 0;
}

static const char *const worker_intent_table[_WORKER_INTENT_MAX] = {
        [INTENT_NONE] = "none", [INTENT_RESTART] = "restart", [INTENT_STOP] = "stop",
        [INTENT_FAIL] = "fail", [INTENT_REMOVE] = "remove",
};

const char *worker_intent_to_string(WorkerIntent i) {
        return i >= 0 && i < _WORKER_INTENT_MAX ? worker_intent_table[i] : NULL;
}

WorkerIntent worker_intent_merge(WorkerIntent current, WorkerIntent requested) {
        return requested > current ? requested : current;
}

ExitOutcome worker_exit_outcome(WorkerIntent intent, bool shutting_down) {
        switch (intent) {
        case INTENT_NONE:
                return shutting_down ? EXIT_OUTCOME_STAY_DOWN : EXIT_OUTCOME_JUDGE;
        case INTENT_RESTART:
                return shutting_down ? EXIT_OUTCOME_STAY_DOWN : EXIT_OUTCOME_RESTART;
        case INTENT_STOP:
                return EXIT_OUTCOME_STAY_DOWN;
        case INTENT_FAIL:
                return EXIT_OUTCOME_FAIL;
        default:
                return EXIT_OUTCOME_REMOVE;
        }
}

bool worker_state_is_active(WorkerState s) {
        return s == WORKER_STARTING || s == WORKER_RUNNING || s == WORKER_STOPPING;
}

static void restart_tally_expire(RestartTally *t, usec_t now, usec_t window_usec) {
        while (t->n > 0) {
                usec_t oldest = t->at[t->start];
                /* Keep entries with now - oldest < window; the window is half-open. */
                if (now >= oldest && now - oldest < window_usec)
                        break;
                if (now < oldest) /* clock went backwards? keep it rather than lose a death */
                        break;
                t->start = (t->start + 1) % RESTART_TALLY_MAX;
                t->n--;
        }
}

bool restart_tally_add(RestartTally *t, usec_t now, unsigned max_restarts, usec_t window_usec) {
        restart_tally_expire(t, now, window_usec);
        if (t->n == RESTART_TALLY_MAX) { /* full: drop the oldest, the verdict is "too many" anyway */
                t->start = (t->start + 1) % RESTART_TALLY_MAX;
                t->n--;
        }
        t->at[(t->start + t->n) % RESTART_TALLY_MAX] = now;
        t->n++;
        return t->n > max_restarts;
}

size_t supervision_escalate(const SupervisorLevel *levels, size_t n, usec_t now) {
        size_t i = 0;
        while (i < n && restart_tally_add(levels[i].tally, now, levels[i].max_restarts, levels[i].window_usec))
                i++;
        return i;
}

size_t restart_tally_count(const RestartTally *t, usec_t now, usec_t window_usec) {
        size_t c = 0;
        for (size_t i = 0; i < t->n; i++) {
                usec_t at = t->at[(t->start + i) % RESTART_TALLY_MAX];
                if (now >= at && now - at < window_usec)
                        c++;
        }
        return c;
}

void restart_tally_reset(RestartTally *t) {
        t->start = t->n = 0;
}

usec_t backoff_delay_usec(unsigned consecutive, usec_t base_usec, usec_t cap_usec) {
        if (consecutive == 0)
                return 0;
        usec_t d = base_usec;
        for (unsigned i = 1; i < consecutive; i++) {
                if (d >= cap_usec / 2) {
                        d = cap_usec;
                        break;
                }
                d *= 2;
        }
        return MIN(d, cap_usec);
}

usec_t daemon_fault_delay_usec(unsigned faults_in_a_row) {
        return backoff_delay_usec(MAX(faults_in_a_row, 1U), DAEMON_FAULT_MIN_DELAY_USEC, DAEMON_FAULT_MAX_DELAY_USEC);
}

bool restart_wanted(RestartPolicy p, bool success) {
        switch (p) {
        case RESTART_ALWAYS:
                return true;
        case RESTART_ON_FAILURE:
                return !success;
        default:
                return false;
        }
}

void strategy_affected(Strategy s, size_t n, size_t failed, bool *ret_affected) {
        for (size_t i = 0; i < n; i++)
                switch (s) {
                case STRATEGY_ONE_FOR_ALL:
                        ret_affected[i] = true;
                        break;
                case STRATEGY_REST_FOR_ONE:
                        ret_affected[i] = i >= failed;
                        break;
                default:
                        ret_affected[i] = i == failed;
                }
}
