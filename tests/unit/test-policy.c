/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* Unit tests for the pure recycle policy: small snapshot tables with an explicit "now". */

#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "policy.h"

#define KiB (1024ULL)
#define MiB (1024ULL * KiB)

/* An arbitrary "now", far from 0 so that "now - x" boundaries are easy to write. */
#define NOW (1000 * USEC_PER_SEC)

/* A healthy running worker: 100 MiB budget, 20 MiB used, all of it its own, no time rules. */
static WorkerSample worker_healthy(void) {
        return (WorkerSample){
                .candidate = true,
                .memory_current = 20 * MiB,
                .unreclaimable = 20 * MiB,
                .budget = 100 * MiB,
                .pressure_some_avg10 = 0.0,
                .started_usec = NOW - 100 * USEC_PER_SEC,
                .last_cpu_activity_usec = NOW - USEC_PER_SEC,
                .last_watchdog_usec = NOW - USEC_PER_SEC,
        };
}

/* A dyno of 512 MiB that recycles at 460 MiB, comfortably below it. */
static Snapshot snapshot_make(usec_t now, const WorkerSample *w, size_t n) {
        return (Snapshot){
                .now = now,
                .dyno =
                        {
                                .memory_current = 100 * MiB,
                                .unreclaimable = 100 * MiB,
                                .memory_limit = 512 * MiB,
                                .recycle_at = 460 * MiB,
                        },
                .workers = w,
                .n_workers = n,
        };
}

/* A sentinel: an untouched *ret still holds it. */
static const PolicyAction action_sentinel = {
        .worker = 4242,
        .reason = RECYCLE_MANUAL,
        .memory_bytes = 4242,
        .budget_bytes = 4242,
};

static int decide(const Snapshot *s, PolicyAction *a) {
        PolicyConfig cfg = POLICY_CONFIG_DEFAULT;

        *a = action_sentinel;
        return policy_decide(s, &cfg, a);
}

/* Field by field: struct assignment need not copy padding bytes. */
static void assert_untouched(const PolicyAction *a) {
        assert_int_equal(a->worker, action_sentinel.worker);
        assert_int_equal(a->reason, action_sentinel.reason);
        assert_int_equal(a->memory_bytes, action_sentinel.memory_bytes);
        assert_int_equal(a->budget_bytes, action_sentinel.budget_bytes);
}

static void assert_action(const PolicyAction *a, size_t worker, RecycleReason reason, uint64_t memory_bytes,
                          uint64_t budget_bytes) {
        assert_int_equal(a->worker, worker);
        assert_string_equal(recycle_reason_to_string(a->reason), recycle_reason_to_string(reason));
        assert_int_equal(a->reason, reason);
        assert_int_equal(a->memory_bytes, memory_bytes);
        assert_int_equal(a->budget_bytes, budget_bytes);
}

static void test_reason_to_string(void **state) {
        assert_string_equal(recycle_reason_to_string(RECYCLE_BUDGET), "budget");
        assert_string_equal(recycle_reason_to_string(RECYCLE_DYNO_LIMIT), "dyno-limit");
        assert_string_equal(recycle_reason_to_string(RECYCLE_PRESSURE), "pressure");
        assert_string_equal(recycle_reason_to_string(RECYCLE_LIFETIME), "lifetime");
        assert_string_equal(recycle_reason_to_string(RECYCLE_IDLE), "idle");
        assert_string_equal(recycle_reason_to_string(RECYCLE_WATCHDOG), "watchdog");
        assert_string_equal(recycle_reason_to_string(RECYCLE_MANUAL), "manual");
        assert_string_equal(recycle_reason_to_string(RECYCLE_NONE), "none");
        assert_null(recycle_reason_to_string(_RECYCLE_REASON_MAX));
        assert_null(recycle_reason_to_string((RecycleReason) -1));
        assert_null(recycle_reason_to_string((RecycleReason) 1000));
}

static void test_empty_snapshot(void **state) {
        Snapshot s = snapshot_make(NOW, NULL, 0);
        PolicyAction a;

        assert_int_equal(decide(&s, &a), 0);
        assert_untouched(&a);

        /* Even a dyno over its limit and under pressure has nobody to recycle. */
        s.dyno.unreclaimable = 600 * MiB;
        s.dyno.pressure_fired = true;
        assert_int_equal(decide(&s, &a), 0);
        assert_untouched(&a);
        assert_int_equal(policy_next_deadline(&s), USEC_INFINITY);
}

static void test_healthy_does_nothing(void **state) {
        WorkerSample w[3] = {worker_healthy(), worker_healthy(), worker_healthy()};
        Snapshot s = snapshot_make(NOW, w, 3);
        PolicyAction a;

        assert_int_equal(decide(&s, &a), 0);
        assert_untouched(&a);
}

static void test_budget_leaker_recycled(void **state) {
        WorkerSample w[2] = {worker_healthy(), worker_healthy()};
        Snapshot s = snapshot_make(NOW, w, 2);
        PolicyAction a;

        /* A leaker at 0.96 * budget: almost all of it anonymous. */
        w[1].budget = 128 * MiB;
        w[1].unreclaimable = 128 * MiB * 96 / 100;
        w[1].memory_current = w[1].unreclaimable + 2 * MiB;

        assert_int_equal(decide(&s, &a), 1);
        assert_action(&a, 1, RECYCLE_BUDGET, 128 * MiB * 96 / 100, 128 * MiB);
}

static void test_budget_steady_heap_not_recycled(void **state) {
        WorkerSample w[1] = {worker_healthy()};
        Snapshot s = snapshot_make(NOW, w, 1);
        PolicyAction a;

        /* A steady heap at 0.9 * budget is fine, however long it stays there. */
        w[0].budget = 128 * MiB;
        w[0].unreclaimable = 128 * MiB * 90 / 100;
        w[0].memory_current = 128 * MiB * 92 / 100;

        assert_int_equal(decide(&s, &a), 0);
        assert_untouched(&a);
}

static void test_budget_threshold_boundary(void **state) {
        WorkerSample w[1] = {worker_healthy()};
        Snapshot s = snapshot_make(NOW, w, 1);
        PolicyAction a;

        /* 1000 * 950 / 1000 = 950 exactly: >= trips, one byte below does not. */
        w[0].budget = 1000;
        w[0].memory_current = 1000;
        w[0].unreclaimable = 949;
        assert_int_equal(decide(&s, &a), 0);

        w[0].unreclaimable = 950;
        assert_int_equal(decide(&s, &a), 1);
        assert_action(&a, 0, RECYCLE_BUDGET, 950, 1000);

        /* The permille is configurable. */
        PolicyConfig cfg = POLICY_CONFIG_DEFAULT;
        cfg.budget_permille = 1000;
        a = action_sentinel;
        assert_int_equal(policy_decide(&s, &cfg, &a), 0);
        assert_untouched(&a);
        w[0].unreclaimable = 1000;
        assert_int_equal(policy_decide(&s, &cfg, &a), 1);
        assert_action(&a, 0, RECYCLE_BUDGET, 1000, 1000);
}

static void test_budget_unlimited_never_trips(void **state) {
        WorkerSample w[1] = {worker_healthy()};
        Snapshot s = snapshot_make(NOW, w, 1);
        PolicyAction a;

        w[0].budget = UINT64_MAX;
        w[0].memory_current = UINT64_MAX - 1;
        w[0].unreclaimable = UINT64_MAX - 1;
        assert_int_equal(decide(&s, &a), 0);
        assert_untouched(&a);

        w[0].unreclaimable = UINT64_MAX;
        w[0].memory_current = UINT64_MAX;
        assert_int_equal(decide(&s, &a), 0);
        assert_untouched(&a);
}

static void test_budget_huge_no_overflow(void **state) {
        WorkerSample w[1] = {worker_healthy()};
        Snapshot s = snapshot_make(NOW, w, 1);
        PolicyAction a;

        /* budget * 950 would overflow 64 bits; the threshold must still be 95% of it. */
        w[0].budget = UINT64_MAX - 1;
        w[0].memory_current = UINT64_MAX / 2;
        w[0].unreclaimable = UINT64_MAX / 2;
        assert_int_equal(decide(&s, &a), 0);

        w[0].unreclaimable = (UINT64_MAX / 100) * 96;
        assert_int_equal(decide(&s, &a), 1);
        assert_action(&a, 0, RECYCLE_BUDGET, (UINT64_MAX / 100) * 96, UINT64_MAX - 1);
}

/* The VM-RECIPE fact: a worker streaming a file through the page cache sits at its memory.high,
 * trips "high" events and PSI, and owns almost none of it. */
static WorkerSample worker_streamer(void) {
        WorkerSample w = worker_healthy();

        w.budget = 48 * MiB;
        w.memory_current = 48 * MiB;
        w.unreclaimable = 48 * MiB - 48 * MiB * 95 / 100; /* file = 95% of current */
        w.pressure_fired = true;
        w.pressure_some_avg10 = 4.56;
        return w;
}

static void test_streamer_not_recycled(void **state) {
        WorkerSample w[1] = {worker_streamer()};
        Snapshot s = snapshot_make(NOW, w, 1);
        PolicyAction a;

        /* Not on budget, not on its own PSI trigger... */
        assert_int_equal(decide(&s, &a), 0);
        assert_untouched(&a);

        /* ...nor on the dyno's PSI trigger. */
        s.dyno.pressure_fired = true;
        assert_int_equal(decide(&s, &a), 0);
        assert_untouched(&a);
}

static void test_pressure_mostly_unreclaimable(void **state) {
        WorkerSample w[2] = {worker_streamer(), worker_healthy()};
        Snapshot s = snapshot_make(NOW, w, 2);
        PolicyAction a;

        /* Worker 1 stalls on memory that is its own, at 90% of its budget: recycled on
         * pressure, with its figures. */
        w[1].pressure_fired = true;
        w[1].own_high_usec = NOW - USEC_PER_MSEC; /* its own memory.high was hit */
        w[1].memory_current = 92 * MiB;
        w[1].unreclaimable = 90 * MiB;
        assert_int_equal(decide(&s, &a), 1);
        assert_action(&a, 1, RECYCLE_PRESSURE, 90 * MiB, 100 * MiB);

        /* Far below its budget, its stall is not its own doing (the dyno or the machine). */
        w[1].memory_current = 60 * MiB;
        w[1].unreclaimable = 55 * MiB;
        assert_int_equal(decide(&s, &a), 0);
        w[1].unreclaimable = 80 * MiB - 1;
        w[1].memory_current = 80 * MiB;
        assert_int_equal(decide(&s, &a), 0);
        w[1].unreclaimable = 80 * MiB; /* exactly 800 permille of the budget */
        assert_int_equal(decide(&s, &a), 1);
        assert_action(&a, 1, RECYCLE_PRESSURE, 80 * MiB, 100 * MiB);

        /* The dyno's brake is engaged (at RecycleAt): every worker stalls, none is blamed for
         * its own pressure; the dyno rules choose. */
        const DynoSample calm = s.dyno;
        s.dyno.recycle_at = 500 * MiB;
        s.dyno.memory_limit = 600 * MiB;
        s.dyno.memory_current = 500 * MiB;
        assert_int_equal(decide(&s, &a), 0);
        s.dyno.memory_current = 500 * MiB - 1;
        assert_int_equal(decide(&s, &a), 1);
        assert_action(&a, 1, RECYCLE_PRESSURE, 80 * MiB, 100 * MiB);
        s.dyno = calm;

        /* Without a budget nothing of its own can stall it. */
        w[1].budget = UINT64_MAX;
        assert_int_equal(decide(&s, &a), 0);
        w[1].budget = 100 * MiB;
        w[1].memory_current = 60 * MiB;
        w[1].unreclaimable = 55 * MiB;

        /* No trigger, no pressure recycle, whatever avg10 says. */
        w[1].pressure_fired = false;
        w[1].pressure_some_avg10 = 80.0;
        assert_int_equal(decide(&s, &a), 0);
        assert_untouched(&a);
}

static void test_pressure_boundary(void **state) {
        WorkerSample w[1] = {worker_healthy()};
        Snapshot s = snapshot_make(NOW, w, 1);
        PolicyAction a;

        w[0].pressure_fired = true;
        w[0].own_high_usec = NOW;
        w[0].budget = 600; /* 500 is 833 permille of it: near its budget, not over */
        w[0].memory_current = 1000;
        w[0].unreclaimable = 500; /* exactly 500 permille */
        assert_int_equal(decide(&s, &a), 1);
        assert_action(&a, 0, RECYCLE_PRESSURE, 500, 600);

        w[0].unreclaimable = 499;
        assert_int_equal(decide(&s, &a), 0);
        assert_untouched(&a);

        /* A worker holding nothing of its own is not to blame. */
        w[0].memory_current = 0;
        w[0].unreclaimable = 0;
        assert_int_equal(decide(&s, &a), 0);
        assert_untouched(&a);
}

static void test_non_candidates_ignored(void **state) {
        WorkerSample w[3] = {worker_healthy(), worker_healthy(), worker_healthy()};
        Snapshot s = snapshot_make(NOW, w, 3);
        PolicyAction a;

        /* Worker 0: over budget, hung, old and idle, under pressure, but already stopping. */
        w[0].candidate = false;
        w[0].recycle_in_progress = true;
        w[0].recycle_in_progress_reason = RECYCLE_BUDGET;
        w[0].unreclaimable = w[0].memory_current = 200 * MiB;
        w[0].pressure_fired = true;
        w[0].pressure_some_avg10 = 90.0;
        w[0].watchdog_usec = USEC_PER_SEC;
        w[0].last_watchdog_usec = 0;
        w[0].max_lifetime_usec = USEC_PER_SEC;
        w[0].idle_timeout_usec = USEC_PER_SEC;
        w[0].last_cpu_activity_usec = 0;
        /* Worker 2: in backoff (not running), also far over budget. */
        w[2] = w[0];
        w[2].recycle_in_progress = false;

        assert_int_equal(decide(&s, &a), 0);
        assert_untouched(&a);

        /* Nor at dyno level, even if they are the only ones with memory to free. */
        s.dyno.unreclaimable = 500 * MiB;
        s.dyno.pressure_fired = true;
        w[1].unreclaimable = 0;
        w[1].memory_current = 0;
        assert_int_equal(decide(&s, &a), 0);
        assert_untouched(&a);

        /* Their deadlines do not arm the timer. */
        assert_int_equal(policy_next_deadline(&s), USEC_INFINITY);
}

/* One worker that matches every per-worker rule; switch them off one by one, in precedence
 * order: watchdog, budget, pressure, lifetime, idle. */
static void test_precedence_within_worker(void **state) {
        WorkerSample w[1] = {worker_healthy()};
        Snapshot s = snapshot_make(NOW, w, 1);
        PolicyAction a;

        w[0].started_usec = 0;
        w[0].watchdog_usec = 10 * USEC_PER_SEC;
        w[0].last_watchdog_usec = NOW - 20 * USEC_PER_SEC;
        w[0].budget = 100 * MiB;
        w[0].memory_current = 99 * MiB;
        w[0].unreclaimable = 98 * MiB;
        w[0].pressure_fired = true;
        w[0].own_high_usec = NOW;
        w[0].max_lifetime_usec = 60 * USEC_PER_SEC;
        w[0].idle_timeout_usec = 30 * USEC_PER_SEC;
        w[0].last_cpu_activity_usec = NOW - 40 * USEC_PER_SEC;

        assert_int_equal(decide(&s, &a), 1);
        assert_action(&a, 0, RECYCLE_WATCHDOG, 99 * MiB, 100 * MiB);

        w[0].watchdog_usec = 0;
        assert_int_equal(decide(&s, &a), 1);
        assert_action(&a, 0, RECYCLE_BUDGET, 98 * MiB, 100 * MiB);

        w[0].budget = 110 * MiB; /* 98 of 110: not over budget, but near it */
        assert_int_equal(decide(&s, &a), 1);
        assert_action(&a, 0, RECYCLE_PRESSURE, 98 * MiB, 110 * MiB);

        w[0].pressure_fired = false;
        assert_int_equal(decide(&s, &a), 1);
        assert_action(&a, 0, RECYCLE_LIFETIME, 99 * MiB, 110 * MiB);

        w[0].max_lifetime_usec = 0;
        assert_int_equal(decide(&s, &a), 1);
        assert_action(&a, 0, RECYCLE_IDLE, 99 * MiB, 110 * MiB);

        w[0].idle_timeout_usec = 0;
        assert_int_equal(decide(&s, &a), 0);
        assert_untouched(&a);
}

static void test_precedence_index_order(void **state) {
        WorkerSample w[3] = {worker_healthy(), worker_healthy(), worker_healthy()};
        Snapshot s = snapshot_make(NOW, w, 3);
        PolicyAction a;

        /* Worker 1 is only idle; worker 2 is hung and over budget. Index order wins: the rule
         * order applies within a worker, not across workers. */
        w[1].idle_timeout_usec = 10 * USEC_PER_SEC;
        w[1].last_cpu_activity_usec = NOW - 10 * USEC_PER_SEC;
        w[2].watchdog_usec = USEC_PER_SEC;
        w[2].last_watchdog_usec = NOW - 5 * USEC_PER_SEC;
        w[2].unreclaimable = w[2].memory_current = 99 * MiB;

        assert_int_equal(decide(&s, &a), 1);
        assert_action(&a, 1, RECYCLE_IDLE, 20 * MiB, 100 * MiB);

        w[1].idle_timeout_usec = 0;
        assert_int_equal(decide(&s, &a), 1);
        assert_action(&a, 2, RECYCLE_WATCHDOG, 99 * MiB, 100 * MiB);
}

static void test_worker_rules_before_dyno(void **state) {
        WorkerSample w[2] = {worker_healthy(), worker_healthy()};
        Snapshot s = snapshot_make(NOW, w, 2);
        PolicyAction a;

        /* The dyno is over recycle_at and worker 0 is the biggest, but worker 1 hit its
         * lifetime: the per-worker rule is decided first. */
        s.dyno.unreclaimable = 470 * MiB;
        w[0].unreclaimable = w[0].memory_current = 90 * MiB;
        w[1].max_lifetime_usec = 100 * USEC_PER_SEC;
        w[1].started_usec = NOW - 100 * USEC_PER_SEC;

        assert_int_equal(decide(&s, &a), 1);
        assert_action(&a, 1, RECYCLE_LIFETIME, 20 * MiB, 100 * MiB);

        w[1].max_lifetime_usec = 0;
        assert_int_equal(decide(&s, &a), 1);
        assert_action(&a, 0, RECYCLE_DYNO_LIMIT, 90 * MiB, 100 * MiB);
}

static void test_dyno_limit_largest_overage(void **state) {
        WorkerSample w[3] = {worker_healthy(), worker_healthy(), worker_healthy()};
        Snapshot s = snapshot_make(NOW, w, 3);
        PolicyAction a;

        /* Overages are measured against the budget itself, while the budget rule trips at
         * budget * budget_permille / 1000; a permille of 2000 keeps the budget rule quiet so
         * that workers over their budget reach the dyno rule. */
        PolicyConfig cfg = POLICY_CONFIG_DEFAULT;
        cfg.budget_permille = 2000;

        s.dyno.unreclaimable = 470 * MiB;
        /* Worker 0: 150 MiB, budget 140 -> overage 10 MiB. */
        w[0].budget = 140 * MiB;
        w[0].unreclaimable = w[0].memory_current = 150 * MiB;
        /* Worker 1: 120 MiB, budget 100 -> overage 20 MiB: the worst, though smaller. */
        w[1].budget = 100 * MiB;
        w[1].unreclaimable = w[1].memory_current = 120 * MiB;
        /* Worker 2: 200 MiB, no budget -> overage 0. */
        w[2].budget = UINT64_MAX;
        w[2].unreclaimable = w[2].memory_current = 200 * MiB;

        a = action_sentinel;
        assert_int_equal(policy_decide(&s, &cfg, &a), 1);
        assert_action(&a, 1, RECYCLE_DYNO_LIMIT, 120 * MiB, 100 * MiB);

        /* Equal overages: the larger unreclaimable wins. */
        w[0].budget = 130 * MiB; /* overage 20 MiB, 150 MiB used */
        a = action_sentinel;
        assert_int_equal(policy_decide(&s, &cfg, &a), 1);
        assert_action(&a, 0, RECYCLE_DYNO_LIMIT, 150 * MiB, 130 * MiB);
}

static void test_dyno_limit_largest_usage_without_overage(void **state) {
        WorkerSample w[4] = {worker_healthy(), worker_healthy(), worker_healthy(), worker_healthy()};
        Snapshot s = snapshot_make(NOW, w, 4);
        PolicyAction a;

        s.dyno.unreclaimable = 460 * MiB; /* exactly recycle_at: acts */
        w[0].unreclaimable = 50 * MiB;
        w[1].unreclaimable = 80 * MiB;
        w[2].unreclaimable = 70 * MiB;
        w[2].budget = UINT64_MAX;
        w[3].unreclaimable = 80 * MiB - 1;
        for (size_t i = 0; i < 4; i++)
                w[i].memory_current = w[i].unreclaimable + MiB;

        assert_int_equal(decide(&s, &a), 1);
        assert_action(&a, 1, RECYCLE_DYNO_LIMIT, 80 * MiB, 100 * MiB);
}

static void test_dyno_limit_tie_lowest_index(void **state) {
        WorkerSample w[4] = {worker_healthy(), worker_healthy(), worker_healthy(), worker_healthy()};
        Snapshot s = snapshot_make(NOW, w, 4);
        PolicyAction a;

        s.dyno.unreclaimable = 500 * MiB;
        for (size_t i = 0; i < 4; i++)
                w[i].unreclaimable = w[i].memory_current = 60 * MiB;
        w[0].unreclaimable = w[0].memory_current = 59 * MiB;

        assert_int_equal(decide(&s, &a), 1);
        assert_action(&a, 1, RECYCLE_DYNO_LIMIT, 60 * MiB, 100 * MiB);

        /* Same answer every time: the decision is a function of its inputs. */
        for (int k = 0; k < 3; k++) {
                assert_int_equal(decide(&s, &a), 1);
                assert_int_equal(a.worker, 1);
        }
}

static void test_dyno_limit_never_non_candidate(void **state) {
        WorkerSample w[3] = {worker_healthy(), worker_healthy(), worker_healthy()};
        Snapshot s = snapshot_make(NOW, w, 3);
        PolicyAction a;

        s.dyno.unreclaimable = 500 * MiB;
        w[0].unreclaimable = 30 * MiB;
        w[1].candidate = false; /* the biggest, but in backoff */
        w[1].budget = 10 * MiB;
        w[1].unreclaimable = 300 * MiB;
        w[2].unreclaimable = 40 * MiB;

        assert_int_equal(decide(&s, &a), 1);
        assert_action(&a, 2, RECYCLE_DYNO_LIMIT, 40 * MiB, 100 * MiB);

        /* Candidates with nothing unreclaimable cannot bring the dyno down. */
        w[0].unreclaimable = 0;
        w[2].unreclaimable = 0;
        assert_int_equal(decide(&s, &a), 0);
        assert_untouched(&a);
}

static void test_dyno_limit_below_recycle_at(void **state) {
        WorkerSample w[2] = {worker_healthy(), worker_healthy()};
        Snapshot s = snapshot_make(NOW, w, 2);
        PolicyAction a;

        w[0].unreclaimable = 90 * MiB;
        s.dyno.unreclaimable = 460 * MiB - 1;
        /* memory.current above recycle_at is page cache: not a reason. */
        s.dyno.memory_current = 510 * MiB;
        assert_int_equal(decide(&s, &a), 0);
        assert_untouched(&a);

        s.dyno.unreclaimable = 460 * MiB;
        assert_int_equal(decide(&s, &a), 1);
        assert_action(&a, 0, RECYCLE_DYNO_LIMIT, 90 * MiB, 100 * MiB);

        /* recycle_at = UINT64_MAX: off. */
        s.dyno.recycle_at = UINT64_MAX;
        s.dyno.unreclaimable = 511 * MiB;
        assert_int_equal(decide(&s, &a), 0);
        assert_untouched(&a);
}

static void test_dyno_holdoff_in_progress(void **state) {
        WorkerSample w[3] = {worker_healthy(), worker_healthy(), worker_healthy()};
        Snapshot s = snapshot_make(NOW, w, 3);
        PolicyAction a;

        s.dyno.unreclaimable = 480 * MiB;
        s.dyno.last_dyno_action_usec = NOW - 10 * USEC_PER_SEC; /* cooldown long over */
        w[1].unreclaimable = 90 * MiB;

        /* Worker 0 is being recycled for dyno-limit: hold off, its memory is about to go and
         * brings the dyno below RecycleAt (480 - 40 < 460). */
        w[0].candidate = false;
        w[0].unreclaimable = 40 * MiB;
        w[0].recycle_in_progress = true;
        w[0].recycle_in_progress_reason = RECYCLE_DYNO_LIMIT;
        assert_int_equal(decide(&s, &a), 0);
        assert_untouched(&a);

        /* The neighbours grew while it drains: once it is gone the dyno would still be at
         * RecycleAt (500 - 40 = 460), so the next offender is due... */
        s.dyno.unreclaimable = 500 * MiB;
        assert_int_equal(decide(&s, &a), 1);
        assert_action(&a, 1, RECYCLE_DYNO_LIMIT, 90 * MiB, 100 * MiB);
        /* ...but never inside the cool-down... */
        s.dyno.last_dyno_action_usec = NOW - 1;
        assert_int_equal(decide(&s, &a), 0);
        s.dyno.last_dyno_action_usec = NOW - 10 * USEC_PER_SEC;
        /* ...and two drains in flight count together (500 - 40 - 20 < 460). */
        w[2].candidate = false;
        w[2].recycle_in_progress = true;
        w[2].recycle_in_progress_reason = RECYCLE_DYNO_LIMIT;
        assert_int_equal(decide(&s, &a), 0);
        w[2] = worker_healthy();
        s.dyno.unreclaimable = 480 * MiB;

        /* Same for a pressure recycle, and for dyno pressure. */
        w[0].recycle_in_progress_reason = RECYCLE_PRESSURE;
        s.dyno.pressure_fired = true;
        w[1].pressure_some_avg10 = 50.0;
        assert_int_equal(decide(&s, &a), 0);
        assert_untouched(&a);

        /* A budget or lifetime recycle in progress does not hold off the dyno rules. */
        w[0].recycle_in_progress_reason = RECYCLE_BUDGET;
        assert_int_equal(decide(&s, &a), 1);
        assert_action(&a, 1, RECYCLE_DYNO_LIMIT, 90 * MiB, 100 * MiB);
        w[0].recycle_in_progress_reason = RECYCLE_LIFETIME;
        assert_int_equal(decide(&s, &a), 1);
        assert_action(&a, 1, RECYCLE_DYNO_LIMIT, 90 * MiB, 100 * MiB);

        /* It finished: resumes. */
        w[0].recycle_in_progress = false;
        w[0].recycle_in_progress_reason = RECYCLE_NONE;
        assert_int_equal(decide(&s, &a), 1);
        assert_action(&a, 1, RECYCLE_DYNO_LIMIT, 90 * MiB, 100 * MiB);

        /* The hold-off never blocks per-worker rules. */
        w[0].recycle_in_progress = true;
        w[0].recycle_in_progress_reason = RECYCLE_DYNO_LIMIT;
        w[2].unreclaimable = 96 * MiB;
        assert_int_equal(decide(&s, &a), 1);
        assert_action(&a, 2, RECYCLE_BUDGET, 96 * MiB, 100 * MiB);
}

static void test_dyno_holdoff_cooldown(void **state) {
        WorkerSample w[2] = {worker_healthy(), worker_healthy()};
        Snapshot s = snapshot_make(NOW, w, 2);
        PolicyAction a;

        s.dyno.unreclaimable = 480 * MiB;
        w[1].unreclaimable = 90 * MiB;

        /* Default cooldown 1 s: one usec before its end holds off, its end resumes. */
        s.dyno.last_dyno_action_usec = NOW - USEC_PER_SEC + 1;
        assert_int_equal(decide(&s, &a), 0);
        assert_untouched(&a);

        s.dyno.last_dyno_action_usec = NOW - USEC_PER_SEC;
        assert_int_equal(decide(&s, &a), 1);
        assert_action(&a, 1, RECYCLE_DYNO_LIMIT, 90 * MiB, 100 * MiB);

        /* Just issued: held off. 0 means never: not held off even at now < cooldown. */
        s.dyno.last_dyno_action_usec = NOW;
        assert_int_equal(decide(&s, &a), 0);
        s.dyno.last_dyno_action_usec = 0;
        s.now = USEC_PER_SEC / 2;
        w[0].started_usec = w[1].started_usec = 0;
        w[0].last_cpu_activity_usec = w[1].last_cpu_activity_usec = 0;
        w[0].last_watchdog_usec = w[1].last_watchdog_usec = 0;
        assert_int_equal(decide(&s, &a), 1);
        assert_action(&a, 1, RECYCLE_DYNO_LIMIT, 90 * MiB, 100 * MiB);

        /* A configured cooldown is honoured. */
        PolicyConfig cfg = POLICY_CONFIG_DEFAULT;
        cfg.dyno_cooldown_usec = 30 * USEC_PER_SEC;
        s.now = NOW;
        s.dyno.last_dyno_action_usec = NOW - 29 * USEC_PER_SEC;
        a = action_sentinel;
        assert_int_equal(policy_decide(&s, &cfg, &a), 0);
        s.dyno.last_dyno_action_usec = NOW - 30 * USEC_PER_SEC;
        assert_int_equal(policy_decide(&s, &cfg, &a), 1);
        assert_int_equal(a.reason, RECYCLE_DYNO_LIMIT);
}

static void test_dyno_pressure_frees_most(void **state) {
        WorkerSample w[4] = {worker_healthy(), worker_healthy(), worker_streamer(), worker_healthy()};
        Snapshot s = snapshot_make(NOW, w, 4);
        PolicyAction a;

        s.dyno.pressure_fired = true;
        s.dyno.own_event_usec = NOW - USEC_PER_MSEC; /* the dyno's own brake was hit */
        w[0].pressure_some_avg10 = 70.0;             /* stalls most, holds least: not chosen */
        w[1].memory_current = w[1].unreclaimable = 60 * MiB;
        w[2].pressure_fired = false; /* the streamer: 48M, but page cache */
        w[3].memory_current = w[3].unreclaimable = 59 * MiB;

        assert_int_equal(decide(&s, &a), 1);
        assert_action(&a, 1, RECYCLE_PRESSURE, 60 * MiB, 100 * MiB);

        /* Without the dyno trigger: nothing, whatever the figures. */
        s.dyno.pressure_fired = false;
        assert_int_equal(decide(&s, &a), 0);
        assert_untouched(&a);
}

static void test_dyno_pressure_ties_and_holdoff(void **state) {
        WorkerSample w[3] = {worker_healthy(), worker_healthy(), worker_healthy()};
        Snapshot s = snapshot_make(NOW, w, 3);
        PolicyAction a;

        s.dyno.pressure_fired = true;
        s.dyno.own_event_usec = NOW - USEC_PER_MSEC;
        w[0].pressure_some_avg10 = NAN; /* a broken sample changes nothing */
        /* All equal: the lowest index. */
        assert_int_equal(decide(&s, &a), 1);
        assert_action(&a, 0, RECYCLE_PRESSURE, 20 * MiB, 100 * MiB);

        /* Dyno pressure is held off by the cooldown, like dyno-limit. */
        s.dyno.last_dyno_action_usec = NOW - 1;
        assert_int_equal(decide(&s, &a), 0);
        assert_untouched(&a);
}

static void test_dyno_limit_before_dyno_pressure(void **state) {
        WorkerSample w[2] = {worker_healthy(), worker_healthy()};
        Snapshot s = snapshot_make(NOW, w, 2);
        PolicyAction a;

        s.dyno.unreclaimable = 470 * MiB;
        s.dyno.pressure_fired = true;
        s.dyno.own_event_usec = NOW - USEC_PER_MSEC; /* the dyno's own brake was hit */
        w[0].unreclaimable = w[0].memory_current = 90 * MiB;
        w[1].pressure_some_avg10 = 60.0;

        assert_int_equal(decide(&s, &a), 1);
        assert_action(&a, 0, RECYCLE_DYNO_LIMIT, 90 * MiB, 100 * MiB);

        /* Below RecycleAt, the dyno's own brake hit: pressure, and the stall average of worker 1
         * does not choose; the one holding most does. */
        s.dyno.unreclaimable = 400 * MiB;
        assert_int_equal(decide(&s, &a), 1);
        assert_action(&a, 0, RECYCLE_PRESSURE, 90 * MiB, 100 * MiB);
}

/* A worker's own PSI trigger counts only if its own memory.high throttled it within the window:
 * global reclaim stalls a worker near its budget without its high counter moving (leak1 in
 * test-recycle, recycled for "pressure" at 88% of its budget before this rule). */
static void test_pressure_needs_own_stall(void **state) {
        WorkerSample w[1] = {worker_healthy()};
        Snapshot s = snapshot_make(NOW, w, 1);
        PolicyAction a;

        w[0].pressure_fired = true;
        w[0].memory_current = w[0].unreclaimable = 90 * MiB;
        w[0].own_high_usec = 0;
        assert_int_equal(decide(&s, &a), 0);
        assert_untouched(&a);
        w[0].own_high_usec = NOW - USEC_PER_SEC - 1; /* just outside the 1 s window */
        assert_int_equal(decide(&s, &a), 0);
        w[0].own_high_usec = NOW - USEC_PER_SEC; /* its edge */
        assert_int_equal(decide(&s, &a), 1);
        assert_action(&a, 0, RECYCLE_PRESSURE, 90 * MiB, 100 * MiB);
        w[0].own_high_usec = NOW + 1; /* from the future: a broken stamp, not evidence */
        assert_int_equal(decide(&s, &a), 0);
}

/* The case of issue 7: a 20 MB/s and a 200 MB/s leaker throttled at their own 64M budgets, a
 * steady worker at 44 of 64M, a fresh incarnation at 4M, a page-cache streamer; the dyno at 30%
 * of its limit. The dyno's PSI trigger fires because PSI is hierarchical: the leakers' own brakes
 * stall it. Nobody may be recycled for "pressure"; only the leakers' budget rule acts. */
static void test_dyno_pressure_from_descendants_is_innocent(void **state) {
        WorkerSample w[5] = {worker_healthy(), worker_healthy(), worker_healthy(), worker_healthy(), worker_streamer()};
        Snapshot s = snapshot_make(NOW, w, 5);
        PolicyAction a;

        for (size_t i = 0; i < 4; i++)
                w[i].budget = 64 * MiB;
        w[0].memory_current = w[0].unreclaimable = 58 * MiB; /* leak20, under 95% still */
        w[0].own_high_usec = NOW - 10 * USEC_PER_MSEC;
        w[0].pressure_some_avg10 = 35.0;
        w[1].memory_current = w[1].unreclaimable = 4 * MiB;  /* a fresh leak200 incarnation */
        w[1].pressure_some_avg10 = 60.0;                     /* it stalled in its last life */
        w[2].memory_current = w[2].unreclaimable = 44 * MiB; /* steady */
        w[2].pressure_some_avg10 = 12.0;
        w[3].memory_current = w[3].unreclaimable = 15 * MiB;
        w[3].pressure_some_avg10 = 20.0;
        s.dyno.memory_limit = 1280 * MiB;
        s.dyno.recycle_at = 1152 * MiB;
        s.dyno.memory_current = s.dyno.unreclaimable = 384 * MiB; /* 30% */
        s.dyno.pressure_fired = true;
        s.dyno.own_event_usec = 0;            /* memory.events.local of the dyno: quiet */
        s.dyno.host_total_bytes = 2000 * MiB; /* the machine is fine */
        s.dyno.host_available_bytes = 1000 * MiB;
        assert_int_equal(decide(&s, &a), 0);
        assert_untouched(&a);

        /* Its own brake or limit was hit (or long ago: not evidence now). */
        s.dyno.own_event_usec = NOW - 2 * USEC_PER_SEC;
        assert_int_equal(decide(&s, &a), 0);
        s.dyno.own_event_usec = NOW - 100 * USEC_PER_MSEC;
        assert_int_equal(decide(&s, &a), 1);
        assert_action(&a, 0, RECYCLE_PRESSURE, 58 * MiB, 64 * MiB); /* the leaker, not the newcomer */
        s.dyno.own_event_usec = 0;

        /* The whole machine is short of memory (MemAvailable below 5% of MemTotal): that counts
         * too, from the threshold on. */
        s.dyno.host_available_bytes = 100 * MiB; /* exactly 5% */
        assert_int_equal(decide(&s, &a), 0);
        s.dyno.host_available_bytes = 100 * MiB - 1;
        assert_int_equal(decide(&s, &a), 1);
        assert_int_equal(a.reason, RECYCLE_PRESSURE);
        s.dyno.host_total_bytes = 0; /* not read */
        assert_int_equal(decide(&s, &a), 0);

        /* The leaker reaching 95% of its budget is recycled, for budget, alone. */
        w[0].unreclaimable = 64 * MiB * 95 / 100 + 1;
        assert_int_equal(decide(&s, &a), 1);
        assert_action(&a, 0, RECYCLE_BUDGET, 64 * MiB * 95 / 100 + 1, 64 * MiB);
}

/* The reserve below the budget: rate x (drain + 50 ms) + 25%, within [budget/64, budget/4]. */
/* SetBudget's bounds: the floor is max(4 MiB, unreclaimable now), the ceiling the dyno limit;
 * exact boundaries on both sides, and the floor reported. */
static void test_budget_bounds(void **state) {
        const uint64_t limit = 512 * MiB;
        uint64_t floor = 0;

        assert_int_equal(policy_budget_floor(0), 4 * MiB);
        assert_int_equal(policy_budget_floor(4 * MiB + 1), 4 * MiB + 1);
        assert_int_equal(policy_check_budget(1024, 0, limit, &floor), BUDGET_BELOW_FLOOR);
        assert_int_equal(floor, 4 * MiB);
        assert_int_equal(policy_check_budget(0, 0, limit, NULL), BUDGET_BELOW_FLOOR);
        assert_int_equal(policy_check_budget(4 * MiB - 1, 0, limit, NULL), BUDGET_BELOW_FLOOR);
        assert_int_equal(policy_check_budget(4 * MiB, 0, limit, NULL), BUDGET_ACCEPTED);
        /* A worker holding 50 MiB: 49 MiB would recycle it at once. */
        assert_int_equal(policy_check_budget(49 * MiB, 50 * MiB, limit, &floor), BUDGET_BELOW_FLOOR);
        assert_int_equal(floor, 50 * MiB);
        assert_int_equal(policy_check_budget(50 * MiB - 1, 50 * MiB, limit, NULL), BUDGET_BELOW_FLOOR);
        assert_int_equal(policy_check_budget(50 * MiB, 50 * MiB, limit, NULL), BUDGET_ACCEPTED);
        assert_int_equal(policy_check_budget(limit, 0, limit, NULL), BUDGET_ACCEPTED);
        assert_int_equal(policy_check_budget(limit + 1, 0, limit, NULL), BUDGET_ABOVE_LIMIT);
        assert_int_equal(policy_check_budget(UINT64_MAX, 0, limit, NULL), BUDGET_ABOVE_LIMIT);
        assert_int_equal(policy_check_budget(UINT64_MAX, UINT64_MAX, UINT64_MAX, NULL), BUDGET_ACCEPTED);
}

static void test_reserve(void **state) {
        const uint64_t b = 64 * MiB;

        assert_int_equal(policy_reserve_bytes(UINT64_MAX, 20 * MiB, 100 * USEC_PER_MSEC), 0);
        assert_int_equal(policy_reserve_bytes(0, 20 * MiB, 100 * USEC_PER_MSEC), 0);
        /* Nothing learned yet: budget/32. */
        assert_int_equal(policy_reserve_bytes(b, 0, 0), b / 32);
        assert_int_equal(policy_reserve_bytes(b, 20 * MiB, 0), b / 32);
        /* 20 MB/s (20971520 B/s -> 20971 B/ms) over 30 + 50 ms = 1677680, + 25% = 2097100. */
        assert_int_equal(policy_reserve_bytes(b, 20 * MiB, 30 * USEC_PER_MSEC), 2097100);
        /* 1 MB/s over 50 ms: 52400 B, below the floor of budget/64. */
        assert_int_equal(policy_reserve_bytes(b, 1 * MiB, 0 + USEC_PER_MSEC), b / 64);
        /* 200 MB/s over 100 + 50 ms: 39 MB, capped at a quarter of the budget. */
        assert_int_equal(policy_reserve_bytes(b, 200 * MiB, 100 * USEC_PER_MSEC), b / 4);
        /* Saturates rather than wraps. */
        assert_int_equal(policy_reserve_bytes(b, UINT64_MAX, USEC_INFINITY), b / 4);
}

/* BudgetCountsRSS=yes: the tripwire also leaves room for the RSS the node is not charged for;
 * never below a quarter of the budget; no budget stays no budget. */
static void test_tripwire(void **state) {
        const uint64_t b = 100 * MiB;

        assert_true(policy_tripwire_bytes(UINT64_MAX, 0, 33 * MiB) == UINT64_MAX);
        assert_int_equal(policy_tripwire_bytes(0, 0, 33 * MiB), 0);
        assert_int_equal(policy_tripwire_bytes(b, b / 32, 0), b - b / 32);
        /* Node's 33 MiB of file pages charged elsewhere: signalled when its node holds 63.9 MiB. */
        assert_int_equal(policy_tripwire_bytes(b, b / 32, 33 * MiB), b - b / 32 - 33 * MiB);
        /* Reserve and uncharged RSS together past three quarters: the floor. */
        assert_int_equal(policy_tripwire_bytes(b, b / 4, b / 2), b / 4);
        assert_int_equal(policy_tripwire_bytes(b, b / 4, b / 2 - 1), b / 4 + 1);
        assert_int_equal(policy_tripwire_bytes(b, b / 4, b / 2 + 1), b / 4);
        /* Saturates rather than wraps. */
        assert_int_equal(policy_tripwire_bytes(b, UINT64_MAX, UINT64_MAX), b / 4);
        assert_int_equal(policy_tripwire_bytes(b, 1, UINT64_MAX), b / 4);
}

/* With a tripwire below the budget the budget rule fires at the tripwire: the worker is signalled
 * while its drain still fits in the budget. */
static void test_budget_rule_at_tripwire(void **state) {
        WorkerSample w[1] = {worker_healthy()};
        Snapshot s = snapshot_make(NOW, w, 1);
        PolicyAction a;

        w[0].tripwire = 80 * MiB;
        w[0].memory_current = w[0].unreclaimable = 76 * MiB - 1; /* below 95% of 80M */
        assert_int_equal(decide(&s, &a), 0);
        w[0].memory_current = w[0].unreclaimable = 76 * MiB; /* exactly 95% of the tripwire */
        assert_int_equal(decide(&s, &a), 1);
        assert_action(&a, 0, RECYCLE_BUDGET, 76 * MiB, 100 * MiB);
        /* A tripwire at or above the budget means none: 95% of the budget. */
        w[0].tripwire = 100 * MiB;
        assert_int_equal(decide(&s, &a), 0);
        w[0].tripwire = UINT64_MAX;
        w[0].memory_current = w[0].unreclaimable = 95 * MiB;
        assert_int_equal(decide(&s, &a), 1);
        assert_action(&a, 0, RECYCLE_BUDGET, 95 * MiB, 100 * MiB);
}

/* IdleRecycleAbove=: above the threshold, recycled at the first idle moment, not before and not
 * below it; after the memory rules, before lifetime. */
static void test_idle_early(void **state) {
        WorkerSample w[1] = {worker_healthy()};
        Snapshot s = snapshot_make(NOW, w, 1);
        PolicyAction a;

        w[0].idle_early_above = 40 * MiB;
        w[0].idle_early_after_usec = USEC_PER_SEC;
        w[0].memory_current = w[0].unreclaimable = 40 * MiB - 1;
        w[0].last_cpu_activity_usec = NOW - 5 * USEC_PER_SEC;
        assert_int_equal(decide(&s, &a), 0); /* below: idle is fine */
        assert_int_equal(policy_next_deadline(&s), USEC_INFINITY);

        w[0].memory_current = w[0].unreclaimable = 40 * MiB;
        w[0].last_cpu_activity_usec = NOW - USEC_PER_SEC + 1; /* busy until just now */
        assert_int_equal(decide(&s, &a), 0);
        assert_int_equal(policy_next_deadline(&s), NOW + 1);
        w[0].last_cpu_activity_usec = NOW - USEC_PER_SEC;
        assert_int_equal(decide(&s, &a), 1);
        assert_action(&a, 0, RECYCLE_IDLE_EARLY, 40 * MiB, 100 * MiB);
        assert_string_equal(recycle_reason_to_string(a.reason), "idle-early");

        /* Lifetime also due: idle-early names the cause first. Over budget: budget. */
        w[0].max_lifetime_usec = USEC_PER_SEC;
        assert_int_equal(decide(&s, &a), 1);
        assert_int_equal(a.reason, RECYCLE_IDLE_EARLY);
        w[0].memory_current = w[0].unreclaimable = 96 * MiB;
        assert_int_equal(decide(&s, &a), 1);
        assert_int_equal(a.reason, RECYCLE_BUDGET);

        /* Off: never. */
        w[0].max_lifetime_usec = 0;
        w[0].memory_current = w[0].unreclaimable = 60 * MiB;
        w[0].idle_early_above = 0;
        assert_int_equal(decide(&s, &a), 0);
}

static void test_lifetime_boundary(void **state) {
        WorkerSample w[1] = {worker_healthy()};
        Snapshot s = snapshot_make(0, w, 1);
        PolicyAction a;

        w[0].started_usec = 5000;
        w[0].last_cpu_activity_usec = 5000;
        w[0].last_watchdog_usec = 5000;
        w[0].max_lifetime_usec = 3600 * USEC_PER_SEC;

        s.now = 5000 + 3600 * USEC_PER_SEC - 1;
        assert_int_equal(decide(&s, &a), 0);
        assert_untouched(&a);
        assert_int_equal(policy_next_deadline(&s), 5000 + 3600 * USEC_PER_SEC);

        s.now = 5000 + 3600 * USEC_PER_SEC;
        assert_int_equal(decide(&s, &a), 1);
        assert_action(&a, 0, RECYCLE_LIFETIME, 20 * MiB, 100 * MiB);

        /* A clock stamp before the start (impossible, but a broken snapshot) does not fire. */
        s.now = 1000;
        assert_int_equal(decide(&s, &a), 0);
}

static void test_idle_boundary(void **state) {
        WorkerSample w[1] = {worker_healthy()};
        Snapshot s = snapshot_make(0, w, 1);
        PolicyAction a;

        w[0].started_usec = 0;
        w[0].last_watchdog_usec = 0;
        w[0].idle_timeout_usec = 300 * USEC_PER_SEC;
        w[0].last_cpu_activity_usec = 7 * USEC_PER_SEC;

        s.now = 307 * USEC_PER_SEC - 1;
        assert_int_equal(decide(&s, &a), 0);
        assert_untouched(&a);

        s.now = 307 * USEC_PER_SEC;
        assert_int_equal(decide(&s, &a), 1);
        assert_action(&a, 0, RECYCLE_IDLE, 20 * MiB, 100 * MiB);

        /* Activity seen again pushes it away. */
        w[0].last_cpu_activity_usec = 300 * USEC_PER_SEC;
        assert_int_equal(decide(&s, &a), 0);
        assert_int_equal(policy_next_deadline(&s), 600 * USEC_PER_SEC);
}

static void test_idle_counts_from_start(void **state) {
        WorkerSample w[1] = {worker_healthy()};
        Snapshot s = snapshot_make(0, w, 1);
        PolicyAction a;

        /* A fresh incarnation whose activity stamp is stale (0, or the previous incarnation's)
         * is idle from its start, not from the stamp. */
        w[0].started_usec = 1000 * USEC_PER_SEC;
        w[0].last_watchdog_usec = 1000 * USEC_PER_SEC;
        w[0].last_cpu_activity_usec = 0;
        w[0].idle_timeout_usec = 60 * USEC_PER_SEC;

        s.now = 1059 * USEC_PER_SEC;
        assert_int_equal(decide(&s, &a), 0);
        assert_int_equal(policy_next_deadline(&s), 1060 * USEC_PER_SEC);
        s.now = 1060 * USEC_PER_SEC;
        assert_int_equal(decide(&s, &a), 1);
        assert_int_equal(a.reason, RECYCLE_IDLE);
}

static void test_watchdog_boundary(void **state) {
        WorkerSample w[1] = {worker_healthy()};
        Snapshot s = snapshot_make(0, w, 1);
        PolicyAction a;

        w[0].started_usec = 0;
        w[0].last_cpu_activity_usec = 0;
        w[0].watchdog_usec = 30 * USEC_PER_SEC;
        w[0].last_watchdog_usec = 12345;

        s.now = 12345 + 30 * USEC_PER_SEC - 1;
        assert_int_equal(decide(&s, &a), 0);
        assert_untouched(&a);
        assert_int_equal(policy_next_deadline(&s), 12345 + 30 * USEC_PER_SEC);

        s.now = 12345 + 30 * USEC_PER_SEC;
        assert_int_equal(decide(&s, &a), 1);
        assert_action(&a, 0, RECYCLE_WATCHDOG, 20 * MiB, 100 * MiB);

        /* Still starting (no READY=1 yet, e.g. a slow start under load): not armed, however
         * late; READY=1 arms it from then (worker_on_ready stamps last_watchdog_usec). */
        w[0].starting = true;
        assert_int_equal(decide(&s, &a), 0);
        s.now = 600 * USEC_PER_SEC;
        assert_int_equal(decide(&s, &a), 0);
        assert_int_equal(policy_next_deadline(&s), USEC_INFINITY);
        w[0].starting = false;
        w[0].last_watchdog_usec = 600 * USEC_PER_SEC;
        assert_int_equal(decide(&s, &a), 0);
        assert_int_equal(policy_next_deadline(&s), 630 * USEC_PER_SEC);

        /* Off: never. */
        w[0].watchdog_usec = 0;
        s.now = UINT64_MAX - 1;
        assert_int_equal(decide(&s, &a), 0);
}

static void test_next_deadline_minimum(void **state) {
        WorkerSample w[4] = {worker_healthy(), worker_healthy(), worker_healthy(), worker_healthy()};
        Snapshot s = snapshot_make(NOW, w, 4);

        /* No time rules anywhere. */
        assert_int_equal(policy_next_deadline(&s), USEC_INFINITY);

        for (size_t i = 0; i < 4; i++) {
                w[i].started_usec = NOW - 10 * USEC_PER_SEC;
                w[i].last_cpu_activity_usec = NOW - 2 * USEC_PER_SEC;
                w[i].last_watchdog_usec = NOW - USEC_PER_SEC;
        }
        w[0].max_lifetime_usec = 3600 * USEC_PER_SEC; /* NOW + 3590 s */
        w[1].idle_timeout_usec = 60 * USEC_PER_SEC;   /* NOW + 58 s */
        w[1].watchdog_usec = 20 * USEC_PER_SEC;       /* NOW + 19 s: the earliest */
        w[2].idle_timeout_usec = 30 * USEC_PER_SEC;   /* NOW + 28 s */
        w[3].candidate = false;                       /* earlier still, but not a candidate */
        w[3].watchdog_usec = 2 * USEC_PER_SEC;

        assert_int_equal(policy_next_deadline(&s), NOW + 19 * USEC_PER_SEC);

        w[1].watchdog_usec = 0;
        assert_int_equal(policy_next_deadline(&s), NOW + 28 * USEC_PER_SEC);

        w[2].idle_timeout_usec = 0;
        assert_int_equal(policy_next_deadline(&s), NOW + 58 * USEC_PER_SEC);

        /* A deadline in the past is returned as is, so the timer fires at once. */
        w[0].max_lifetime_usec = 5 * USEC_PER_SEC;
        assert_int_equal(policy_next_deadline(&s), NOW - 5 * USEC_PER_SEC);
}

static void test_next_deadline_saturates(void **state) {
        WorkerSample w[1] = {worker_healthy()};
        Snapshot s = snapshot_make(NOW, w, 1);
        PolicyAction a;

        /* started + lifetime overflows: never, rather than wrapping into the past. */
        w[0].started_usec = UINT64_MAX - 10;
        w[0].last_cpu_activity_usec = UINT64_MAX - 10;
        w[0].last_watchdog_usec = UINT64_MAX - 10;
        w[0].max_lifetime_usec = 100;
        w[0].idle_timeout_usec = 100;
        w[0].watchdog_usec = 100;
        assert_int_equal(policy_next_deadline(&s), USEC_INFINITY);
        assert_int_equal(decide(&s, &a), 0);
        assert_untouched(&a);
}

static void test_snapshot_not_modified(void **state) {
        WorkerSample w[2] = {worker_healthy(), worker_healthy()};
        WorkerSample copy[2];
        Snapshot s = snapshot_make(NOW, w, 2);
        PolicyAction a;

        w[1].unreclaimable = 99 * MiB;
        memcpy(copy, w, sizeof(w));
        assert_int_equal(decide(&s, &a), 1);
        assert_int_equal(decide(&s, &a), 1);
        assert_memory_equal(w, copy, sizeof(w));
        assert_int_equal(s.now, NOW);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_reason_to_string),
                cmocka_unit_test(test_empty_snapshot),
                cmocka_unit_test(test_healthy_does_nothing),
                cmocka_unit_test(test_budget_leaker_recycled),
                cmocka_unit_test(test_budget_steady_heap_not_recycled),
                cmocka_unit_test(test_budget_threshold_boundary),
                cmocka_unit_test(test_budget_unlimited_never_trips),
                cmocka_unit_test(test_budget_huge_no_overflow),
                cmocka_unit_test(test_streamer_not_recycled),
                cmocka_unit_test(test_pressure_mostly_unreclaimable),
                cmocka_unit_test(test_pressure_boundary),
                cmocka_unit_test(test_non_candidates_ignored),
                cmocka_unit_test(test_precedence_within_worker),
                cmocka_unit_test(test_precedence_index_order),
                cmocka_unit_test(test_worker_rules_before_dyno),
                cmocka_unit_test(test_dyno_limit_largest_overage),
                cmocka_unit_test(test_dyno_limit_largest_usage_without_overage),
                cmocka_unit_test(test_dyno_limit_tie_lowest_index),
                cmocka_unit_test(test_dyno_limit_never_non_candidate),
                cmocka_unit_test(test_dyno_limit_below_recycle_at),
                cmocka_unit_test(test_dyno_holdoff_in_progress),
                cmocka_unit_test(test_dyno_holdoff_cooldown),
                cmocka_unit_test(test_dyno_pressure_frees_most),
                cmocka_unit_test(test_dyno_pressure_ties_and_holdoff),
                cmocka_unit_test(test_dyno_limit_before_dyno_pressure),
                cmocka_unit_test(test_lifetime_boundary),
                cmocka_unit_test(test_idle_boundary),
                cmocka_unit_test(test_idle_counts_from_start),
                cmocka_unit_test(test_watchdog_boundary),
                cmocka_unit_test(test_next_deadline_minimum),
                cmocka_unit_test(test_next_deadline_saturates),
                cmocka_unit_test(test_snapshot_not_modified),
                cmocka_unit_test(test_pressure_needs_own_stall),
                cmocka_unit_test(test_reserve),
                cmocka_unit_test(test_tripwire),
                cmocka_unit_test(test_budget_bounds),
                cmocka_unit_test(test_idle_early),
                cmocka_unit_test(test_budget_rule_at_tripwire),
                cmocka_unit_test(test_dyno_pressure_from_descendants_is_innocent),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
