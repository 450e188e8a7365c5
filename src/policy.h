/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The recycle policy: pure. (snapshot, config, now) -> at most one action. No syscalls, no clock
 * reads, no logging: the manager collects the snapshot, calls policy_decide(), executes. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "shared/macro.h"

typedef enum RecycleReason {
        RECYCLE_NONE,
        RECYCLE_BUDGET,
        RECYCLE_DYNO_LIMIT,
        RECYCLE_PRESSURE,
        RECYCLE_LIFETIME,
        RECYCLE_IDLE,
        RECYCLE_WATCHDOG,
        RECYCLE_MANUAL,
        RECYCLE_IDLE_EARLY,
        RECYCLE_OOM, /* never decided by the policy: the kernel's OOM killer acted in the node */
        _RECYCLE_REASON_MAX,
} RecycleReason;

/* "budget", "dyno-limit", "pressure", "lifetime", "idle", "watchdog", "manual", "idle-early", "oom" (the
 * D-Bus and journal spelling); NULL for out-of-range. */
const char *recycle_reason_to_string(RecycleReason r);

typedef struct WorkerSample {
        bool candidate;           /* running and not already stopping: may be recycled */
        bool recycle_in_progress; /* being stopped by a recycle right now */
        RecycleReason recycle_in_progress_reason;
        uint64_t memory_current;       /* bytes */
        uint64_t unreclaimable;        /* bytes, memory_unreclaimable_bytes() */
        uint64_t budget;               /* bytes; UINT64_MAX = no budget */
        uint64_t tripwire;             /* memory.high below the budget (budget - reserve); 0 = the
                                        * budget itself is the tripwire */
        bool pressure_fired;           /* the worker's PSI trigger fired since the last decision */
        usec_t own_high_usec;          /* last time its own memory.high was breached (memory.events
                                        * high grew); 0 = never in this incarnation */
        double pressure_some_avg10;    /* percent, from memory.pressure */
        usec_t started_usec;           /* when this incarnation was spawned */
        usec_t max_lifetime_usec;      /* 0 = off */
        usec_t idle_timeout_usec;      /* 0 = off */
        uint64_t idle_early_above;     /* IdleRecycleAbove= resolved, bytes; 0 = off */
        usec_t idle_early_after_usec;  /* IdleRecycleAfterSec= */
        usec_t last_cpu_activity_usec; /* last time cpu.stat usage_usec was seen to grow */
        usec_t watchdog_usec;          /* 0 = off */
        bool starting;                 /* waiting for READY=1: the watchdog is not armed yet (as
                                        * systemd's WatchdogSec=, it starts when start-up is done;
                                        * a start that hangs is TimeoutStartSec='s) */
        usec_t last_watchdog_usec;     /* last WATCHDOG=1 (or READY=1, or spawn) */
} WorkerSample;

typedef struct DynoSample {
        uint64_t memory_current;       /* bytes, the dyno node */
        uint64_t unreclaimable;        /* bytes, sum over workers (page cache excluded) */
        uint64_t memory_limit;         /* bytes */
        uint64_t recycle_at;           /* bytes */
        bool pressure_fired;           /* the dyno's PSI trigger fired since the last decision */
        usec_t own_event_usec;         /* last time the dyno's OWN memory.high or memory.max was hit
                                        * (memory.events.local high/max grew); 0 = never */
        uint64_t host_total_bytes;     /* /proc/meminfo MemTotal; 0 when not read */
        uint64_t host_available_bytes; /* /proc/meminfo MemAvailable */
        usec_t last_dyno_action_usec;  /* last dyno-limit/pressure recycle issued; 0 = never */
} DynoSample;

typedef struct Snapshot {
        usec_t now;
        DynoSample dyno;
        const WorkerSample *workers;
        size_t n_workers;
} Snapshot;

typedef struct PolicyConfig {
        /* A worker is over budget when unreclaimable >= budget * budget_permille / 1000. */
        unsigned budget_permille; /* default 950 */
        /* Pressure only counts against a worker whose memory is mostly its own doing:
         * unreclaimable >= memory_current * pressure_min_unreclaimable_permille / 1000. */
        unsigned pressure_min_unreclaimable_permille; /* default 500 */
        /* ... and holds at least this share of its own budget (a worker without a budget is
         * never blamed for its own stall), and the dyno is below RecycleAt. */
        unsigned pressure_min_budget_permille; /* default 800 */
        usec_t dyno_cooldown_usec;             /* hold-off between dyno-level actions; default 1 s */
        /* A stall is "its own" only if the node's own limit was hit this recently; default 1 s
         * (the default PSI window). */
        usec_t own_stall_window_usec;
        /* The machine counts as short of memory below this share of MemAvailable in MemTotal;
         * default 50 (5%). (Not /proc/pressure/memory: at the root it includes the stall of every
         * worker throttled at its own memory.high, so a working brake looks like a shortage.) */
        unsigned host_min_available_permille;
} PolicyConfig;

#define POLICY_CONFIG_DEFAULT                               \
        ((PolicyConfig){                                    \
                .budget_permille = 950,                     \
                .pressure_min_unreclaimable_permille = 500, \
                .pressure_min_budget_permille = 800,        \
                .dyno_cooldown_usec = USEC_PER_SEC,         \
                .own_stall_window_usec = USEC_PER_SEC,      \
                .host_min_available_permille = 50,          \
        })

typedef struct PolicyAction {
        size_t worker; /* index into Snapshot.workers */
        RecycleReason reason;
        uint64_t memory_bytes; /* the figure that decided it (unreclaimable or current) */
        uint64_t budget_bytes; /* the worker's budget, UINT64_MAX if none */
} PolicyAction;

/* Decides at most one recycle. Order of precedence:
 *  1. per-worker, in index order, first match wins: watchdog (now - last_watchdog >= watchdog),
 *     budget (unreclaimable >= budget_permille of the tripwire, or of the budget when no
 *     tripwire is set), pressure (pressure_fired, its own memory.high hit
 *     within own_stall_window, mostly unreclaimable, at least pressure_min_budget of its budget,
 *     and the dyno below recycle_at), idle-early (unreclaimable >= idle_early_above and no CPU
 *     for idle_early_after), lifetime (now - started >= max_lifetime), idle (now - last_cpu_activity >= idle_timeout).
 *  2. dyno-limit: dyno.unreclaimable >= recycle_at -> the worst offender among candidates:
 *     largest (unreclaimable - budget) overage first, then largest unreclaimable. Skipped within
 *     dyno_cooldown of the last one, and while dyno-limit/pressure recycles are in progress whose
 *     workers' unreclaimable bytes, once freed, bring the dyno below recycle_at; so each action is
 *     re-checked against fresh numbers, and a drain that cannot cover the overage (slowed by the
 *     dyno's own brake while its neighbours grow) does not hold the next offender back.
 *  3. dyno pressure (pressure_fired on the dyno), counted only while the dyno itself is short of
 *     memory: its own memory.high (RecycleAt) or memory.max hit within own_stall_window
 *     (memory.events.local), or unreclaimable >= recycle_at, or the machine's MemAvailable below
 *     host_min_available_permille of MemTotal. PSI is hierarchical: a worker throttled at its own budget stalls
 *     the dyno's figure too, and that is the worker's brake working, not the dyno's shortage.
 *     Then, among candidates that are mostly unreclaimable, the one freeing the most (largest
 *     overage, then largest unreclaimable; PSI averages lag and are inherited by a fresh
 *     incarnation, so they do not choose); same hold-off as 2.
 * Only candidates are considered. Returns 1 with *ret filled, 0 if nothing to do. */
int policy_decide(const Snapshot *s, const PolicyConfig *cfg, PolicyAction *ret);

/* The reserve kept between a worker's tripwire (memory.high) and its MemoryBudget, so that what
 * it allocates between the stop signal and its exit still fits in the budget: growth rate
 * (bytes/s, learned per worker; 0 = unknown) times (drain time + the reaction margin), plus a
 * quarter for noise. Unknown rate or drain: budget/32. Clamped to [budget/64, budget/4]: a
 * reserve eats into the budget a healthy worker may use. 0 without a budget. Pure. */
#define POLICY_REACTION_MARGIN_USEC (50 * USEC_PER_MSEC)
#define POLICY_DEFAULT_DRAIN_USEC   (100 * USEC_PER_MSEC)
uint64_t policy_reserve_bytes(uint64_t budget, uint64_t growth_bytes_per_sec, usec_t drain_usec);

/* The tripwire: budget - reserve, and with BudgetCountsRSS=yes also minus the RSS of the main
 * process that its node is not charged for (`uncharged`: file pages it maps that another cgroup
 * read first), so that its RSS, not only its node, stays inside the budget. Never below a
 * quarter of the budget. UINT64_MAX or 0 (no budget) is returned as is. Pure. */
uint64_t policy_tripwire_bytes(uint64_t budget, uint64_t reserve, uint64_t uncharged);

/* SetBudget's bounds. A new budget must be at least the floor, max(POLICY_BUDGET_FLOOR_BYTES, the
 * worker's unreclaimable memory now): below 4 MiB a worker cannot even load its program, and a
 * budget below what it holds would recycle it at once and again in its next life (the operator's
 * road to a recycle is RecycleWorker). And at most the dyno's MemoryLimit. Pure. */
#define POLICY_BUDGET_FLOOR_BYTES (4ULL * 1024 * 1024)
typedef enum BudgetVerdict {
        BUDGET_ACCEPTED,
        BUDGET_BELOW_FLOOR,
        BUDGET_ABOVE_LIMIT,
} BudgetVerdict;
/* The floor for a worker holding `unreclaimable_bytes` now. */
uint64_t policy_budget_floor(uint64_t unreclaimable_bytes);
/* Returns the verdict on `bytes`; *ret_floor (optional) gets the floor that applied. */
BudgetVerdict policy_check_budget(uint64_t bytes, uint64_t unreclaimable_bytes, uint64_t dyno_limit_bytes,
                                  uint64_t *ret_floor);

/* The earliest time at which a time-based rule (lifetime, idle, watchdog) could fire for any
 * candidate, for arming one timer; USEC_INFINITY if none. Pure. */
usec_t policy_next_deadline(const Snapshot *s);
