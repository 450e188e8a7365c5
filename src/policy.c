/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* The recycle policy. Pure: it reads a Snapshot and a PolicyConfig and answers with at most one
 * action. Nothing here reads a clock, touches a file or logs; "now" is Snapshot.now. The manager
 * executes the action, logs it with the figures in PolicyAction, and asks again on the next
 * event, so each decision is made against fresh numbers. */

#include <assert.h>
#include <math.h>

#include "policy.h"

static const char *const recycle_reason_table[_RECYCLE_REASON_MAX] = {
        [RECYCLE_NONE] = "none",         [RECYCLE_BUDGET] = "budget",     [RECYCLE_DYNO_LIMIT] = "dyno-limit",
        [RECYCLE_PRESSURE] = "pressure", [RECYCLE_LIFETIME] = "lifetime", [RECYCLE_IDLE] = "idle",
        [RECYCLE_WATCHDOG] = "watchdog", [RECYCLE_MANUAL] = "manual",     [RECYCLE_IDLE_EARLY] = "idle-early",
        [RECYCLE_OOM] = "oom",
};

const char *recycle_reason_to_string(RecycleReason r) {
        if ((int) r < 0 || r >= _RECYCLE_REASON_MAX)
                return NULL;
        return recycle_reason_table[r];
}

static usec_t usec_add(usec_t a, usec_t b) {
        usec_t r;

        /* Saturate: a deadline past the end of time never fires. */
        if (__builtin_add_overflow(a, b, &r))
                return USEC_INFINITY;
        return r;
}

/* floor(v * permille / 1000) without overflowing for v near UINT64_MAX; saturates. */
static uint64_t scale_permille(uint64_t v, unsigned permille) {
        uint64_t hi, lo, r;

        if (__builtin_mul_overflow(v / 1000, (uint64_t) permille, &hi))
                return UINT64_MAX;
        lo = (v % 1000) * permille / 1000; /* (v % 1000) * permille < 1000 * 2^32: no overflow */
        if (__builtin_add_overflow(hi, lo, &r))
                return UINT64_MAX;
        return r;
}

/* The three time-based deadlines of a worker, USEC_INFINITY when the rule is off. The bases are
 * never taken earlier than the incarnation's start: a fresh worker whose activity or watchdog
 * stamp was left at 0 (or carried over from the previous incarnation) must not be judged idle
 * or hung for time it did not exist. */
static usec_t worker_watchdog_deadline(const WorkerSample *w) {
        if (w->watchdog_usec == 0 || w->starting)
                return USEC_INFINITY;
        return usec_add(MAX(w->last_watchdog_usec, w->started_usec), w->watchdog_usec);
}

static usec_t worker_lifetime_deadline(const WorkerSample *w) {
        if (w->max_lifetime_usec == 0)
                return USEC_INFINITY;
        return usec_add(w->started_usec, w->max_lifetime_usec);
}

static usec_t worker_idle_deadline(const WorkerSample *w) {
        if (w->idle_timeout_usec == 0)
                return USEC_INFINITY;
        return usec_add(MAX(w->last_cpu_activity_usec, w->started_usec), w->idle_timeout_usec);
}

/* IdleRecycleAbove=: above the threshold, the next idle moment is the time to go (the seed's own
 * remedy, made general). Below it, no deadline. */
static usec_t worker_idle_early_deadline(const WorkerSample *w) {
        if (w->idle_early_above == 0 || w->unreclaimable < w->idle_early_above)
                return USEC_INFINITY;
        return usec_add(MAX(w->last_cpu_activity_usec, w->started_usec), w->idle_early_after_usec);
}

static bool deadline_passed(usec_t deadline, usec_t now) {
        return deadline != USEC_INFINITY && now >= deadline;
}

/* Budgets are judged on unreclaimable bytes, not memory.current: a worker streaming files fills
 * its memory.high with page cache that the kernel drops on demand, and that is not a leak.
 * UINT64_MAX means "no budget". 0 is treated the same: a memory.high of 0 is no budget anyone
 * means, and honouring it would recycle the worker the moment it started. */
static bool worker_has_budget(const WorkerSample *w) {
        return w->budget != UINT64_MAX && w->budget != 0;
}

/* The tripwire (memory.high, budget - reserve) is where a leaker is held and recycled, so that
 * its drain ends inside the budget. */
static bool worker_over_budget(const WorkerSample *w, const PolicyConfig *cfg) {
        if (!worker_has_budget(w))
                return false;
        uint64_t trip = w->tripwire > 0 && w->tripwire < w->budget ? w->tripwire : w->budget;
        return w->unreclaimable >= scale_permille(trip, cfg->budget_permille);
}

uint64_t policy_reserve_bytes(uint64_t budget, uint64_t growth_bytes_per_sec, usec_t drain_usec) {
        uint64_t lo, hi, r;

        if (budget == UINT64_MAX || budget == 0)
                return 0;
        lo = budget / 64;
        hi = budget / 4;
        if (growth_bytes_per_sec == 0 || drain_usec == 0)
                r = budget / 32;
        else {
                usec_t t = usec_add(drain_usec, POLICY_REACTION_MARGIN_USEC);
                /* bytes = rate * t / 1e6, then + 25%; saturating. */
                if (__builtin_mul_overflow(growth_bytes_per_sec / 1000, t / 1000, &r))
                        r = UINT64_MAX;
                r = r > UINT64_MAX / 5 * 4 ? UINT64_MAX : r + r / 4;
        }
        return MIN(MAX(r, lo), hi);
}

uint64_t policy_tripwire_bytes(uint64_t budget, uint64_t reserve, uint64_t uncharged) {
        if (budget == UINT64_MAX || budget == 0)
                return budget;
        uint64_t floor = budget / 4, cut = reserve > UINT64_MAX - uncharged ? UINT64_MAX : reserve + uncharged;
        return cut >= budget - floor ? floor : budget - cut;
}

/* PSI alone is not evidence: page cache churn stalls a worker too (see VM-RECIPE.md, the 512 MB
 * cat under a 48M memory.high: avg10=4.56 with anon 0). Only a worker whose memory is mostly its
 * own (unreclaimable) is to blame. A worker holding nothing unreclaimable is never to blame:
 * recycling it frees nothing. */
static bool worker_mostly_unreclaimable(const WorkerSample *w, const PolicyConfig *cfg) {
        if (w->unreclaimable == 0)
                return false;
        return w->unreclaimable >= scale_permille(w->memory_current, cfg->pressure_min_unreclaimable_permille);
}

static bool reason_is_memory(RecycleReason r) {
        return r == RECYCLE_BUDGET || r == RECYCLE_DYNO_LIMIT || r == RECYCLE_PRESSURE;
}

static PolicyAction make_action(size_t i, const WorkerSample *w, RecycleReason reason) {
        bool memory_rule = reason_is_memory(reason) || reason == RECYCLE_IDLE_EARLY;

        return (PolicyAction){
                .worker = i,
                .reason = reason,
                /* Memory rules report the figure they judged (unreclaimable); the time rules
                 * report memory.current, for the log line. */
                .memory_bytes = memory_rule ? w->unreclaimable : w->memory_current,
                .budget_bytes = w->budget,
        };
}

/* A worker's own PSI stall is its own doing only when its own limit is what stalls it: it holds
 * most of its budget, and the dyno's brake (memory.high = RecycleAt) is not engaged. Once the
 * dyno is throttled every worker stalls, and a per-worker trigger fires in each of them (seen in
 * the VM: ten 20 MB/s leakers under one dyno limit, each at 10-20M of a 128M budget); choosing
 * among them is the dyno rules' job. A worker without a budget is never blamed here either:
 * nothing of its own can stall it. */
static bool recent(usec_t at, usec_t now, usec_t window) {
        return at != 0 && at <= now && now - at <= window;
}

static bool worker_pressure_is_its_own(const Snapshot *s, const WorkerSample *w, const PolicyConfig *cfg) {
        if (!w->pressure_fired || !worker_has_budget(w) || !worker_mostly_unreclaimable(w, cfg))
                return false;
        /* The stall is its own only if its own memory.high throttled it: global reclaim or a
         * neighbour's churn stalls a worker too, without its high counter moving. */
        if (!recent(w->own_high_usec, s->now, cfg->own_stall_window_usec))
                return false;
        if (s->dyno.recycle_at > 0 && s->dyno.memory_current >= s->dyno.recycle_at)
                return false;
        return w->unreclaimable >= scale_permille(w->budget, cfg->pressure_min_budget_permille);
}

static RecycleReason worker_check(const Snapshot *s, const WorkerSample *w, const PolicyConfig *cfg, usec_t now) {
        if (deadline_passed(worker_watchdog_deadline(w), now))
                return RECYCLE_WATCHDOG;
        if (worker_over_budget(w, cfg))
                return RECYCLE_BUDGET;
        if (worker_pressure_is_its_own(s, w, cfg))
                return RECYCLE_PRESSURE;
        if (deadline_passed(worker_idle_early_deadline(w), now))
                return RECYCLE_IDLE_EARLY;
        if (deadline_passed(worker_lifetime_deadline(w), now))
                return RECYCLE_LIFETIME;
        if (deadline_passed(worker_idle_deadline(w), now))
                return RECYCLE_IDLE;
        return RECYCLE_NONE;
}

/* After a dyno-level recycle, the memory it frees shows up only once the worker is gone; acting
 * again before that would recycle a second worker for the same overage. So a dyno-level recycle
 * in flight holds the dyno rules off, unless the dyno would still be at or above RecycleAt once
 * every such drain has freed what it holds: then the overage is more than the drains will cover
 * (a drain slowed by the dyno's own brake while its neighbours keep growing), and the next
 * offender is due once the cool-down has passed. */
static bool dyno_held_off(const Snapshot *s, const PolicyConfig *cfg) {
        uint64_t in_flight = 0;
        bool draining = false;

        if (s->dyno.last_dyno_action_usec != 0 &&
            s->now < usec_add(s->dyno.last_dyno_action_usec, cfg->dyno_cooldown_usec))
                return true;

        for (size_t i = 0; i < s->n_workers; i++) {
                const WorkerSample *w = &s->workers[i];

                if (w->recycle_in_progress && (w->recycle_in_progress_reason == RECYCLE_DYNO_LIMIT ||
                                               w->recycle_in_progress_reason == RECYCLE_PRESSURE)) {
                        draining = true;
                        in_flight += w->unreclaimable;
                }
        }
        if (!draining)
                return false;

        return s->dyno.unreclaimable < in_flight || s->dyno.unreclaimable - in_flight < s->dyno.recycle_at;
}

static uint64_t worker_overage(const WorkerSample *w) {
        if (!worker_has_budget(w) || w->unreclaimable <= w->budget)
                return 0;
        return w->unreclaimable - w->budget;
}

/* Largest overage first, then largest unreclaimable; strict comparisons over ascending indexes
 * keep the lowest index on ties. Workers holding nothing unreclaimable are skipped: recycling
 * them cannot bring the dyno down. Returns the index, or SIZE_MAX. */
static size_t dyno_worst_offender(const Snapshot *s) {
        size_t best = SIZE_MAX;
        uint64_t best_overage = 0, best_unreclaimable = 0;

        for (size_t i = 0; i < s->n_workers; i++) {
                const WorkerSample *w = &s->workers[i];
                uint64_t overage;

                if (!w->candidate || w->unreclaimable == 0)
                        continue;

                overage = worker_overage(w);
                if (best == SIZE_MAX || overage > best_overage ||
                    (overage == best_overage && w->unreclaimable > best_unreclaimable)) {
                        best = i;
                        best_overage = overage;
                        best_unreclaimable = w->unreclaimable;
                }
        }

        return best;
}

/* Whether the dyno itself is short of memory, as opposed to stalling because a descendant hit its
 * own budget (PSI and memory.events are hierarchical; memory.events.local is not). */
static bool dyno_short_of_memory(const Snapshot *s, const PolicyConfig *cfg) {
        if (s->dyno.unreclaimable >= s->dyno.recycle_at)
                return true;
        if (recent(s->dyno.own_event_usec, s->now, cfg->own_stall_window_usec))
                return true;
        return s->dyno.host_total_bytes > 0 &&
               s->dyno.host_available_bytes <
                       scale_permille(s->dyno.host_total_bytes, cfg->host_min_available_permille);
}

/* The dyno stalls and is itself short of memory: the worker whose recycle frees the most of its
 * own memory (largest overage, then largest unreclaimable), among those whose memory is mostly
 * their own. PSI averages are not used to choose: they lag by up to 10 s and a fresh incarnation
 * inherits its node's history, which is how a 4 MiB newcomer got blamed before. */
static size_t dyno_pressure_offender(const Snapshot *s, const PolicyConfig *cfg) {
        size_t best = SIZE_MAX;
        uint64_t best_overage = 0, best_unreclaimable = 0;

        for (size_t i = 0; i < s->n_workers; i++) {
                const WorkerSample *w = &s->workers[i];
                uint64_t overage;

                if (!w->candidate || !worker_mostly_unreclaimable(w, cfg))
                        continue;
                overage = worker_overage(w);
                if (best == SIZE_MAX || overage > best_overage ||
                    (overage == best_overage && w->unreclaimable > best_unreclaimable)) {
                        best = i;
                        best_overage = overage;
                        best_unreclaimable = w->unreclaimable;
                }
        }

        return best;
}

int policy_decide(const Snapshot *s, const PolicyConfig *cfg, PolicyAction *ret) {
        size_t i;

        assert(s);
        assert(cfg);
        assert(ret);
        assert(s->workers || s->n_workers == 0);

        /* 1. Per-worker rules. The watchdog comes first: a hung worker's memory figures mean
         * nothing. Memory rules come before the time rules so the log names the real cause. */
        for (i = 0; i < s->n_workers; i++) {
                const WorkerSample *w = &s->workers[i];
                RecycleReason reason;

                if (!w->candidate)
                        continue;

                reason = worker_check(s, w, cfg, s->now);
                if (reason != RECYCLE_NONE) {
                        *ret = make_action(i, w, reason);
                        return 1;
                }
        }

        if (dyno_held_off(s, cfg))
                return 0;

        /* 2. The dyno nears its limit: judged on unreclaimable bytes, for the same reason as the
         * budget. recycle_at == UINT64_MAX turns this off. */
        if (s->dyno.unreclaimable >= s->dyno.recycle_at) {
                i = dyno_worst_offender(s);
                if (i != SIZE_MAX) {
                        *ret = make_action(i, &s->workers[i], RECYCLE_DYNO_LIMIT);
                        return 1;
                }
        }

        /* 3. The dyno stalls on memory: the worker stalling most, if the memory is its own. */
        if (s->dyno.pressure_fired && dyno_short_of_memory(s, cfg)) {
                i = dyno_pressure_offender(s, cfg);
                if (i != SIZE_MAX) {
                        *ret = make_action(i, &s->workers[i], RECYCLE_PRESSURE);
                        return 1;
                }
        }

        return 0;
}

usec_t policy_next_deadline(const Snapshot *s) {
        usec_t next = USEC_INFINITY;

        assert(s);
        assert(s->workers || s->n_workers == 0);

        /* The minimum over all armed deadlines: one already in the past is returned as is, so the
         * caller's timer fires at once and policy_decide() sees it. */
        for (size_t i = 0; i < s->n_workers; i++) {
                const WorkerSample *w = &s->workers[i];

                if (!w->candidate)
                        continue;

                next = MIN(next, worker_watchdog_deadline(w));
                next = MIN(next, worker_lifetime_deadline(w));
                next = MIN(next, worker_idle_deadline(w));
                next = MIN(next, worker_idle_early_deadline(w));
        }

        return next;
}

uint64_t policy_budget_floor(uint64_t unreclaimable_bytes) {
        return MAX(POLICY_BUDGET_FLOOR_BYTES, unreclaimable_bytes);
}

BudgetVerdict policy_check_budget(uint64_t bytes, uint64_t unreclaimable_bytes, uint64_t dyno_limit_bytes,
                                  uint64_t *ret_floor) {
        uint64_t floor = policy_budget_floor(unreclaimable_bytes);

        if (ret_floor)
                *ret_floor = floor;
        if (bytes < floor)
                return BUDGET_BELOW_FLOOR;
        if (bytes > dyno_limit_bytes)
                return BUDGET_ABOVE_LIMIT;
        return BUDGET_ACCEPTED;
}
