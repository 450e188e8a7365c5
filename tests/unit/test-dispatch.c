/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* The dispatcher with fake operations and a fake announcer: what is done is announced exactly
 * once, what failed is neither announced nor counted, and one failure does not shield the next
 * offender. */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "dispatch.h"

#define MiB  (1024ULL * 1024ULL)
#define NOW  (1000 * USEC_PER_SEC)
#define MAXW 8

typedef struct Fake {
        int result[MAXW]; /* what recycle() returns for each worker */
        size_t recycle_calls[MAXW];
        size_t n_announced;
        Event announced[16];
        usec_t clock;
} Fake;

static int fake_recycle(void *userdata, size_t index, const PolicyAction *a, Event *ret) {
        Fake *f = userdata;
        assert_true(index < MAXW);
        f->recycle_calls[index]++;
        if (f->result[index] <= 0) {
                /* A failed operation may have scribbled on *ret: it must not be announced anyway. */
                ret->type = EVENT_RECYCLED;
                ret->worker = "scribbled";
                return f->result[index];
        }
        *ret = EVENT_INIT(EVENT_RECYCLED);
        ret->worker = "w";
        ret->reason = a->reason;
        ret->memory_bytes = a->memory_bytes;
        ret->pid = (pid_t) (100 + index);
        return 1;
}

static void fake_announce(void *userdata, const Event *e) {
        Fake *f = userdata;
        assert_true(f->n_announced < 16);
        f->announced[f->n_announced++] = *e;
}

static usec_t fake_now(void *userdata) {
        Fake *f = userdata;
        return f->clock;
}

static const DispatchOps ops = {.recycle = fake_recycle, .announce = fake_announce, .now = fake_now};

static WorkerSample healthy(void) {
        return (WorkerSample){
                .candidate = true,
                .memory_current = 20 * MiB,
                .unreclaimable = 20 * MiB,
                .budget = 100 * MiB,
                .started_usec = NOW - 100 * USEC_PER_SEC,
                .last_cpu_activity_usec = NOW - USEC_PER_SEC,
                .last_watchdog_usec = NOW - USEC_PER_SEC,
        };
}

static WorkerSample over_budget(void) {
        WorkerSample w = healthy();
        w.memory_current = w.unreclaimable = 99 * MiB;
        return w;
}

static DynoSample dyno_calm(void) {
        return (DynoSample){
                .memory_current = 100 * MiB,
                .unreclaimable = 100 * MiB,
                .memory_limit = 512 * MiB,
                .recycle_at = 460 * MiB,
        };
}

static void test_failed_recycle_announces_nothing(void **state) {
        Fake f = {.result = {-ENOMEM}, .clock = NOW};
        WorkerSample w[] = {over_budget()};
        DynoSample d = dyno_calm();
        PolicyConfig cfg = POLICY_CONFIG_DEFAULT;
        DispatchResult res;

        assert_int_equal(dispatch_evaluate(NOW, &d, w, 1, &cfg, &ops, &f, &res), 0);
        assert_int_equal(f.recycle_calls[0], 1); /* tried once, not in a loop */
        assert_int_equal(f.n_announced, 0);
        assert_int_equal(res.recycled, 0);
        assert_int_equal(res.not_done, 1);
        assert_false(w[0].recycle_in_progress);
}

static void test_nothing_to_act_on_announces_nothing(void **state) {
        Fake f = {.result = {0}, .clock = NOW};
        WorkerSample w[] = {over_budget()};
        DynoSample d = dyno_calm();
        PolicyConfig cfg = POLICY_CONFIG_DEFAULT;
        DispatchResult res;

        assert_int_equal(dispatch_evaluate(NOW, &d, w, 1, &cfg, &ops, &f, &res), 0);
        assert_int_equal(f.n_announced, 0);
        assert_int_equal(res.not_done, 1);
}

static void test_each_recycle_announced_once(void **state) {
        Fake f = {.result = {1, 1, 1}, .clock = NOW};
        WorkerSample w[] = {over_budget(), healthy(), over_budget()};
        DynoSample d = dyno_calm();
        PolicyConfig cfg = POLICY_CONFIG_DEFAULT;
        DispatchResult res;

        assert_int_equal(dispatch_evaluate(NOW, &d, w, 3, &cfg, &ops, &f, &res), 2);
        assert_int_equal(f.n_announced, 2);
        assert_int_equal(f.announced[0].pid, 100);
        assert_int_equal(f.announced[0].reason, RECYCLE_BUDGET);
        assert_int_equal(f.announced[0].memory_bytes, 99 * MiB);
        assert_int_equal(f.announced[1].pid, 102);
        assert_int_equal(f.recycle_calls[0], 1);
        assert_int_equal(f.recycle_calls[1], 0); /* the innocent is never touched */
        assert_int_equal(f.recycle_calls[2], 1);
        assert_true(w[0].recycle_in_progress);
        assert_int_equal(w[0].recycle_in_progress_reason, RECYCLE_BUDGET);
        assert_false(w[1].recycle_in_progress);
}

static void test_failure_does_not_shield_next_offender(void **state) {
        Fake f = {.result = {-EIO, 1}, .clock = NOW};
        WorkerSample w[] = {over_budget(), over_budget()};
        DynoSample d = dyno_calm();
        PolicyConfig cfg = POLICY_CONFIG_DEFAULT;
        DispatchResult res;

        assert_int_equal(dispatch_evaluate(NOW, &d, w, 2, &cfg, &ops, &f, &res), 1);
        assert_int_equal(f.n_announced, 1);
        assert_int_equal(f.announced[0].pid, 101);
        assert_int_equal(res.not_done, 1);
}

/* Over RecycleAt: one dyno-level recycle per pass, the cool-down stamped from the ops' clock (the
 * stop signal), and the deadline set for the end of the cool-down. */
static void test_dyno_limit_once_then_cooldown(void **state) {
        Fake f = {.result = {1, 1}, .clock = NOW + 5 * USEC_PER_MSEC};
        WorkerSample w[] = {healthy(), healthy()};
        DynoSample d = dyno_calm();
        PolicyConfig cfg = POLICY_CONFIG_DEFAULT;
        DispatchResult res;

        w[1].unreclaimable = w[1].memory_current = 60 * MiB;
        d.unreclaimable = d.memory_current = 470 * MiB;
        assert_int_equal(dispatch_evaluate(NOW, &d, w, 2, &cfg, &ops, &f, &res), 1);
        assert_int_equal(f.n_announced, 1);
        assert_int_equal(f.announced[0].pid, 101); /* the larger one */
        assert_int_equal(f.announced[0].reason, RECYCLE_DYNO_LIMIT);
        assert_int_equal(res.last_dyno_action_usec, NOW + 5 * USEC_PER_MSEC);
        assert_int_equal(res.next_deadline, NOW + 5 * USEC_PER_MSEC + cfg.dyno_cooldown_usec);
}

static void test_calm_dyno_no_deadline(void **state) {
        Fake f = {.clock = NOW};
        WorkerSample w[] = {healthy()};
        DynoSample d = dyno_calm();
        PolicyConfig cfg = POLICY_CONFIG_DEFAULT;
        DispatchResult res;

        assert_int_equal(dispatch_evaluate(NOW, &d, w, 1, &cfg, &ops, &f, &res), 0);
        assert_int_equal(res.next_deadline, USEC_INFINITY); /* an idle daemon does not wake up */
        assert_int_equal(f.n_announced, 0);

        w[0].max_lifetime_usec = 200 * USEC_PER_SEC;
        assert_int_equal(dispatch_evaluate(NOW, &d, w, 1, &cfg, &ops, &f, &res), 0);
        assert_int_equal(res.next_deadline, NOW + 100 * USEC_PER_SEC);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_failed_recycle_announces_nothing),
                cmocka_unit_test(test_nothing_to_act_on_announces_nothing),
                cmocka_unit_test(test_each_recycle_announced_once),
                cmocka_unit_test(test_failure_does_not_shield_next_offender),
                cmocka_unit_test(test_dyno_limit_once_then_cooldown),
                cmocka_unit_test(test_calm_dyno_no_deadline),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
