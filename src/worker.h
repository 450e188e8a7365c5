/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* One worker's life, as mechanics: spawn an incarnation into its node, signal it, kill its node
 * after the stop timeout, notice its exit, replace it first (ReplaceFirst=yes). It decides nothing
 * about other workers and announces nothing: operations return what happened as an Event, and
 * what the kernel tells later (an exit, a timeout, a state change) is reported to the owner
 * through WorkerContext.report. Every state change goes through supervisor.c's table.
 *
 * Includes only what it uses: cgroup, spawn, supervisor, event. Nothing here knows the manager,
 * the monitor or the bus. */

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include <systemd/sd-event.h>

#include "cgroup.h"
#include "config.h"
#include "event.h"
#include "growth.h"
#include "supervisor.h"

typedef struct Worker Worker;
typedef struct Group Group;
typedef struct Retiree Retiree;
typedef struct MemoryWatch MemoryWatch;

/* What a worker needs from its owner. */
typedef struct WorkerContext {
        sd_event *event;
        const CgroupRoot *root;
        const char *notify_socket; /* NOTIFY_SOCKET for workers; NULL = none */
        const char *output_dir;    /* foreground: the workers' output FIFOs; NULL = pipes */
        bool shutting_down;        /* nothing restarts once the daemon is stopping */
        /* Events that happen later than the operation that caused them. Called synchronously;
         * after an EXITED report of an unplanned exit the owner must call worker_restart_after()
         * or worker_stay_down() before returning. */
        void (*report)(Worker *w, const Event *e, void *userdata);
        void *userdata;
} WorkerContext;

/* An Erlang-style supervisor's group (or the dyno itself, name NULL): plain data, the manager
 * decides with it. */
struct Group {
        char *name;        /* supervisor name; NULL for the dyno's own group */
        char *cgroup_path; /* relative to the cgroup mount: inside its parent's */
        Group *parent;     /* the enclosing supervisor's group; NULL for the dyno's own */
        Strategy strategy;
        unsigned max_restarts;
        usec_t restart_window_usec;
        uint64_t budget_bytes; /* memory.high; UINT64_MAX = max */
        RestartTally tally;
        bool failed;
        bool keep; /* reload bookkeeping */
};

/* ReplaceFirst=yes: the old incarnation of a worker, still serving in its own node while the
 * replacement starts in a fresh one; stopped once the replacement sent READY=1. */
struct Retiree {
        Worker *worker;
        pid_t pid;
        int pidfd;
        char *cgroup_path;
        sd_event_source *child_source;
        sd_event_source *timer_source;
        bool signaled;
        RecycleReason reason;
        uint64_t drain_high; /* memory.high for its drain; 0 = leave the budget */
};

struct Worker {
        WorkerContext *ctx;
        Group *group;
        const WorkerConfig *cfg; /* points into the manager's config */
        char *name;              /* "queuer" or "queuer@2" */
        unsigned instance;       /* 0 when Instances=1 */
        char *cgroup_path;       /* the current incarnation's node */
        char *object_path;       /* D-Bus */

        WorkerState state;
        WorkerIntent intent; /* what the current incarnation's exit leads to */
        pid_t pid;
        int pidfd;
        sd_event_source *child_source;
        sd_event_source *timer_source; /* stop timeout, backoff, ready timeout */

        int output_fd[2]; /* foreground: the pipe its stdout/stderr go to, read by us */
        sd_event_source *output_source;
        char output_buf[4096]; /* a partial line */
        size_t output_len;

        MemoryWatch *watch; /* the owner's: memory.events and PSI of the current node */

        uint64_t budget_bytes;     /* resolved MemoryBudget; UINT64_MAX = none */
        uint64_t memory_max_bytes; /* resolved MemoryMax, the node's memory.max; UINT64_MAX = none */
        /* Learned per worker, across incarnations, for the reserve below the budget: */
        uint64_t growth_bytes_per_sec; /* how fast it grew up to its tripwire; 0 = unknown */
        usec_t drain_usec;             /* how long from its stop signal to its exit; 0 = unknown */
        usec_t stop_usec;              /* when the current stop signal went out; 0 = none */
        bool drain_lifted;             /* the drain passed the budget: brake lifted further */
        /* BudgetCountsRSS=yes: the main process's RSS that its node is not charged for, as last
         * probed (kept across incarnations: the same binary maps the same files), and the
         * probes of this incarnation (250 ms after its start, then doubling, 8 in all). */
        uint64_t uncharged_rss_bytes;
        sd_event_source *rss_probe_source;
        usec_t rss_probe_delay;
        /* Who leaks (growth.h): this incarnation's samples, the rates of past lives, the verdict. */
        GrowthTrack growth;
        LifeRates lives;
        unsigned lifetimes;   /* incarnations that have ended */
        bool life_hit_budget; /* this incarnation was recycled for its budget */
        bool leaking;
        int64_t leak_rate;    /* bytes/s, the median of the lives behind the verdict */
        unsigned incarnation; /* starts so far */
        unsigned restarts;    /* restarts after unplanned exits */
        unsigned recycles;
        unsigned consecutive_failures;
        /* Failed starts in a row, the last one's error, and whether it repeated the one before
         * (then it is neither logged nor announced again). */
        unsigned start_failures;
        int start_error;
        bool start_error_repeated;
        unsigned daemon_faults;       /* starts in a row that failed on the daemon's account */
        RecycleReason recycle_reason; /* != NONE while stopping for a recycle */
        RecycleReason last_recycle_reason;

        bool keep;        /* reload bookkeeping */
        Retiree *retiree; /* ReplaceFirst: the incarnation being replaced */
        char *stale_path; /* its node, when the kernel did not let go of it at once */
        sd_event_source *settle_source;
        unsigned settle_tries;
        unsigned generation; /* for fresh node names */

        usec_t started_usec;          /* CLOCK_MONOTONIC of this incarnation's spawn */
        usec_t started_realtime_usec; /* the same in CLOCK_REALTIME (D-Bus StartTimestamp) */
        usec_t last_watchdog_usec;
        usec_t last_cpu_activity_usec;
        uint64_t last_cpu_usage_usec;
};

/* What a recycle is to do; the owner fills in what depends on the dyno. */
typedef struct RecycleRequest {
        RecycleReason reason;
        uint64_t memory_bytes; /* the figure that decided it */
        uint64_t memory_current_bytes;
        uint64_t budget_bytes;
        usec_t detect_usec;  /* when the kernel event behind it arrived; 0 = n/a */
        uint64_t drain_high; /* lift the node's memory.high to this for the drain; 0 = leave it */
        bool replace_ok;     /* ReplaceFirst=yes and two copies fit: spawn the replacement first */
} RecycleRequest;

int worker_new(WorkerContext *ctx, Group *g, const WorkerConfig *cfg, unsigned instance, uint64_t budget_bytes,
               Worker **ret);
Worker *worker_free(Worker *w);
DEFINE_TRIVIAL_CLEANUP_FUNC(Worker *, worker_free);

usec_t now_usec(void);
/* An event about this worker with its identity, budget and counters filled in (now). */
Event worker_event(const Worker *w, EventType t);
usec_t now_realtime_usec(void);

/* Spawns a new incarnation (from stopped, backoff or failed; a no-op while one runs). Returns 1
 * and *ret = STARTED; 0 if one is already running or the daemon is stopping (nothing happened,
 * *ret untouched); or a negative errno and *ret = START_FAILED, with daemon_fault set when the
 * failure was the daemon's own (a node it could not create, EMFILE, ENOMEM, clone3). The state
 * is left for the owner to decide on after a failure (worker_restart_after/worker_stay_down). */
int worker_start(Worker *w, Event *ret);

/* Asks the current incarnation to stop, raising its intent (worker_intent_merge()). Running:
 * sends StopSignal and arms StopTimeoutSec (then cgroup.kill); returns 1. Already stopping: only
 * the intent changes; returns 0. In backoff: the pending restart is cancelled and the worker
 * settles as the intent says (stopped, failed); returns 0. */
int worker_stop(Worker *w, WorkerIntent intent);

/* Carries out a recycle. Returns 1 and *ret = RECYCLED when the stop signal was sent or the
 * replacement spawned; 0 if the worker is not running or already stopping; a negative errno when
 * it failed, in which case nothing happened and nothing is counted. */
int worker_recycle(Worker *w, const RecycleRequest *req, Event *ret);

/* Sets the budget and the node's memory.high (a draining node keeps its drain allowance; the new
 * budget applies to the next incarnation). Returns 1 and *ret = BUDGET_CHANGED, 0 if unchanged,
 * or a negative errno from the cgroup write (the budget is then unchanged). */
int worker_set_budget(Worker *w, uint64_t budget_bytes, Event *ret);

/* After an unplanned exit (or a failed start): restart after `delay` (0: now; the STARTED or
 * START_FAILED of a later start is reported), counting it in `restarts` when `count` is set.
 * Returns what worker_start() returns for delay 0, else 0. */
int worker_restart_after(Worker *w, usec_t delay, bool count, Event *ret);
/* After an exit: stay down, in state failed if `failed`. */
void worker_stay_down(Worker *w, bool failed);

void worker_on_ready(Worker *w);
void worker_on_watchdog(Worker *w);
/* Stops the replaced incarnation now (the replacement is ready, or never will be). */
void worker_retire_now(Worker *w);

/* memory.high of a running incarnation: budget - policy_reserve_bytes() of what was learned
 * (UINT64_MAX without a budget). */
uint64_t worker_tripwire(const Worker *w);
/* BudgetCountsRSS=yes: (re)starts the incarnation's RSS probes (see on_rss_probe()). */
void worker_arm_rss_probes(Worker *w);

/* A drain that reached the budget anyway (a burst nobody could foresee): lift memory.high to
 * `high` so the stop handler can still run. Returns 1 if lifted now, 0 if not draining or
 * already lifted, or a negative errno. */
int worker_lift_drain(Worker *w, uint64_t high);

/* Re-adoption by a restarted daemon, after the owner restored the counters from the state file.
 * worker_adopt(): the live main process `pid` (its `pidfd`, owned from now on) continues in
 * `state`; its exit is watched through the pidfd (it is not our child: the exit status is
 * unknown, code 0, and an unplanned exit counts as a failure); `timer_usec` (CLOCK_MONOTONIC; 0 =
 * from now) re-arms the stop timeout, backoff or ready wait of that state. Stop signals are not
 * sent again. Returns 0 or a negative errno (then nothing was taken).
 * worker_sweep(): the node holds processes nobody can vouch for (or none, for a main process that
 * exited while no daemon watched): `state` is restored (STOPPING if active), StopSignal goes to
 * every process in the node, StopTimeoutSec then cgroup.kill, and once the node is empty the
 * exit is handled as `intent` says (INTENT_RESTART: a fresh start). Returns 0 or a negative errno. */
int worker_adopt(Worker *w, WorkerState state, pid_t pid, int pidfd, usec_t timer_usec);
int worker_sweep(Worker *w, WorkerState state, WorkerIntent intent);

/* Whether a drain needs the dyno's headroom right now (a recycle in progress or a retiree). */
bool worker_is_draining(const Worker *w);
