/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* The supervision decisions with an explicit clock: the state table, restart intensity,
 * backoff and the strategies. */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "supervisor.h"

static WorkerState next(WorkerState s, WorkerEvent e) {
        WorkerState n = (WorkerState) -1;
        assert_int_equal(worker_state_next(s, e, &n), 0);
        return n;
}

static void test_state_names(void **state) {
        assert_string_equal(worker_state_to_string(WORKER_STOPPED), "stopped");
        assert_string_equal(worker_state_to_string(WORKER_STARTING), "starting");
        assert_string_equal(worker_state_to_string(WORKER_RUNNING), "running");
        assert_string_equal(worker_state_to_string(WORKER_STOPPING), "stopping");
        assert_string_equal(worker_state_to_string(WORKER_BACKOFF), "backoff");
        assert_string_equal(worker_state_to_string(WORKER_FAILED), "failed");
        assert_null(worker_state_to_string(_WORKER_STATE_MAX));
        assert_null(worker_state_to_string((WorkerState) -1));
}

static void test_lifecycle(void **state) {
        WorkerState s = WORKER_STOPPED;
        s = next(s, WEV_START);
        assert_int_equal(s, WORKER_STARTING);
        s = next(s, WEV_READY);
        assert_int_equal(s, WORKER_RUNNING);
        s = next(s, WEV_STOP);
        assert_int_equal(s, WORKER_STOPPING);
        s = next(s, WEV_EXIT_RESTART); /* a recycle: down, then up again */
        assert_int_equal(s, WORKER_BACKOFF);
        s = next(s, WEV_START);
        assert_int_equal(s, WORKER_STARTING);
        s = next(s, WEV_READY);
        s = next(s, WEV_EXIT_DONE); /* Restart=no and it exited */
        assert_int_equal(s, WORKER_STOPPED);
}

static void test_invalid_transitions(void **state) {
        WorkerState n = WORKER_RUNNING;
        assert_int_equal(worker_state_next(WORKER_RUNNING, WEV_START, &n), -EINVAL);
        assert_int_equal(n, WORKER_RUNNING); /* untouched on failure */
        assert_int_equal(worker_state_next(WORKER_STOPPED, WEV_READY, &n), -EINVAL);
        assert_int_equal(worker_state_next(WORKER_STOPPED, WEV_STOP, &n), -EINVAL);
        assert_int_equal(worker_state_next(WORKER_BACKOFF, WEV_READY, &n), -EINVAL);
        assert_int_equal(worker_state_next(WORKER_RUNNING, WEV_BACKOFF_CANCEL, &n), -EINVAL);
        assert_int_equal(worker_state_next(_WORKER_STATE_MAX, WEV_START, &n), -EINVAL);
        assert_int_equal(worker_state_next(WORKER_RUNNING, _WORKER_EVENT_MAX, &n), -EINVAL);
}

static void test_fail_and_recover(void **state) {
        /* Every state can fail; failed is left only by an explicit start. */
        for (WorkerState s = 0; s < _WORKER_STATE_MAX; s++)
                assert_int_equal(next(s, WEV_FAIL), WORKER_FAILED);
        assert_int_equal(next(WORKER_FAILED, WEV_START), WORKER_STARTING);
        /* A worker stopping when its group failed exits and stays failed. */
        assert_int_equal(next(WORKER_FAILED, WEV_EXIT_DONE), WORKER_FAILED);
        /* A spawn that failed from stopped is judged like a death. */
        assert_int_equal(next(WORKER_STOPPED, WEV_EXIT_RESTART), WORKER_BACKOFF);
        assert_int_equal(next(WORKER_BACKOFF, WEV_BACKOFF_CANCEL), WORKER_STOPPED);
}

static void test_active(void **state) {
        assert_true(worker_state_is_active(WORKER_STARTING));
        assert_true(worker_state_is_active(WORKER_RUNNING));
        assert_true(worker_state_is_active(WORKER_STOPPING));
        assert_false(worker_state_is_active(WORKER_BACKOFF));
        assert_false(worker_state_is_active(WORKER_STOPPED));
        assert_false(worker_state_is_active(WORKER_FAILED));
}

static void test_intensity(void **state) {
        RestartTally t = {};
        const usec_t W = 60 * USEC_PER_SEC;

        /* MaxRestarts=5: five restarts in the window are fine, the sixth fails the group. */
        for (int i = 0; i < 5; i++)
                assert_false(restart_tally_add(&t, (usec_t) i * USEC_PER_SEC, 5, W));
        assert_int_equal(restart_tally_count(&t, 4 * USEC_PER_SEC, W), 5);
        assert_true(restart_tally_add(&t, 5 * USEC_PER_SEC, 5, W));

        /* Spread out beyond the window, restarts never add up. */
        restart_tally_reset(&t);
        for (int i = 0; i < 100; i++)
                assert_false(restart_tally_add(&t, (usec_t) i * W, 1, W));
        assert_int_equal(restart_tally_count(&t, 99 * W, W), 1);

        /* The window is half-open: a restart exactly W ago has left it. */
        restart_tally_reset(&t);
        assert_false(restart_tally_add(&t, 0, 1, W));
        assert_true(restart_tally_add(&t, W - 1, 1, W));
        restart_tally_reset(&t);
        assert_false(restart_tally_add(&t, 0, 1, W));
        assert_false(restart_tally_add(&t, W, 1, W));

        /* MaxRestarts=0: the first death fails the group. */
        restart_tally_reset(&t);
        assert_true(restart_tally_add(&t, 0, 0, W));
}

/* inner fails -> outer (MaxRestarts=1) -> dyno (MaxRestarts=1): the first failure of inner is
 * absorbed by outer, the second fails outer too and is absorbed by the dyno, the third... */
static void test_escalate(void **state) {
        static RestartTally outer, dyno;
        const usec_t W = 60 * USEC_PER_SEC;
        SupervisorLevel levels[] = {{&outer, 1, W}, {&dyno, 1, W}};
        (void) state;

        assert_int_equal(supervision_escalate(levels, 2, 1 * USEC_PER_SEC), 0); /* outer restarts inner */
        assert_int_equal(restart_tally_count(&outer, 1 * USEC_PER_SEC, W), 1);
        assert_int_equal(restart_tally_count(&dyno, 1 * USEC_PER_SEC, W), 0);   /* the dyno never saw it */
        assert_int_equal(supervision_escalate(levels, 2, 2 * USEC_PER_SEC), 1); /* outer fails, dyno restarts it */
        assert_int_equal(restart_tally_count(&dyno, 2 * USEC_PER_SEC, W), 1);
        /* The parent restarts a fresh child: its tally starts over. */
        restart_tally_reset(&outer);
        assert_int_equal(supervision_escalate(levels, 2, 3 * USEC_PER_SEC), 0);
        assert_int_equal(supervision_escalate(levels, 2, 4 * USEC_PER_SEC), 2); /* outer, then the dyno */
        /* Outside the window, old failures are forgotten. */
        restart_tally_reset(&outer);
        restart_tally_reset(&dyno);
        assert_int_equal(supervision_escalate(levels, 2, 100 * USEC_PER_SEC), 0);
        assert_int_equal(supervision_escalate(levels, 2, 200 * USEC_PER_SEC), 0);
        /* The dyno itself failed: nothing above it. */
        assert_int_equal(supervision_escalate(levels, 0, 300 * USEC_PER_SEC), 0);
}

static void test_intensity_overflow(void **state) {
        static RestartTally t;
        /* More deaths than the ring holds, all within the window: still "too many", no overrun. */
        for (int i = 0; i < RESTART_TALLY_MAX + 10; i++)
                (void) restart_tally_add(&t, (usec_t) i, 5, USEC_PER_SEC * 10);
        assert_int_equal(t.n, RESTART_TALLY_MAX);
        assert_true(restart_tally_add(&t, RESTART_TALLY_MAX + 11, 5, USEC_PER_SEC * 10));
}

static void test_backoff(void **state) {
        const usec_t base = 100 * USEC_PER_MSEC, cap = 30 * USEC_PER_SEC;
        assert_int_equal(backoff_delay_usec(0, base, cap), 0);
        assert_int_equal(backoff_delay_usec(1, base, cap), 100 * USEC_PER_MSEC);
        assert_int_equal(backoff_delay_usec(2, base, cap), 200 * USEC_PER_MSEC);
        assert_int_equal(backoff_delay_usec(3, base, cap), 400 * USEC_PER_MSEC);
        assert_int_equal(backoff_delay_usec(9, base, cap), 25600 * USEC_PER_MSEC);
        assert_int_equal(backoff_delay_usec(10, base, cap), cap);
        assert_int_equal(backoff_delay_usec(4000000000U, base, cap), cap); /* no overflow */
        assert_int_equal(backoff_delay_usec(3, 5 * USEC_PER_SEC, USEC_PER_SEC), USEC_PER_SEC);
}

/* The daemon's own start failures: retried from 100 ms, doubling, never slower than every 5 s (a
 * dyno that ran out of fds picks itself up soon after), whatever the worker's RestartSec says. */
static void test_daemon_fault_delay(void **state) {
        assert_int_equal(daemon_fault_delay_usec(0), 100 * USEC_PER_MSEC);
        assert_int_equal(daemon_fault_delay_usec(1), 100 * USEC_PER_MSEC);
        assert_int_equal(daemon_fault_delay_usec(2), 200 * USEC_PER_MSEC);
        assert_int_equal(daemon_fault_delay_usec(6), 3200 * USEC_PER_MSEC);
        assert_int_equal(daemon_fault_delay_usec(7), 5 * USEC_PER_SEC);
        assert_int_equal(daemon_fault_delay_usec(4000000000U), 5 * USEC_PER_SEC);
}

static void test_restart_policy(void **state) {
        assert_true(restart_wanted(RESTART_ALWAYS, true));
        assert_true(restart_wanted(RESTART_ALWAYS, false));
        assert_false(restart_wanted(RESTART_ON_FAILURE, true));
        assert_true(restart_wanted(RESTART_ON_FAILURE, false));
        assert_false(restart_wanted(RESTART_NO, true));
        assert_false(restart_wanted(RESTART_NO, false));
}

static void test_strategies(void **state) {
        bool a[5];

        strategy_affected(STRATEGY_ONE_FOR_ONE, 5, 2, a);
        assert_false(a[0]);
        assert_false(a[1]);
        assert_true(a[2]);
        assert_false(a[3]);
        assert_false(a[4]);

        strategy_affected(STRATEGY_ONE_FOR_ALL, 5, 2, a);
        for (int i = 0; i < 5; i++)
                assert_true(a[i]);

        strategy_affected(STRATEGY_REST_FOR_ONE, 5, 2, a);
        assert_false(a[0]);
        assert_false(a[1]);
        assert_true(a[2]);
        assert_true(a[3]);
        assert_true(a[4]);

        strategy_affected(STRATEGY_REST_FOR_ONE, 5, 0, a);
        for (int i = 0; i < 5; i++)
                assert_true(a[i]);
        strategy_affected(STRATEGY_REST_FOR_ONE, 5, 4, a);
        for (int i = 0; i < 4; i++)
                assert_false(a[i]);
        assert_true(a[4]);
}

/* One intent per incarnation; a stop request only raises it. */
static void test_intent_merge(void **state) {
        assert_int_equal(worker_intent_merge(INTENT_NONE, INTENT_RESTART), INTENT_RESTART);
        assert_int_equal(worker_intent_merge(INTENT_RESTART, INTENT_STOP), INTENT_STOP); /* StopWorker during a drain */
        assert_int_equal(worker_intent_merge(INTENT_STOP, INTENT_RESTART), INTENT_STOP);
        assert_int_equal(worker_intent_merge(INTENT_RESTART, INTENT_FAIL), INTENT_FAIL);
        assert_int_equal(worker_intent_merge(INTENT_FAIL, INTENT_STOP), INTENT_FAIL);
        assert_int_equal(worker_intent_merge(INTENT_REMOVE, INTENT_RESTART), INTENT_REMOVE); /* never back */
        assert_int_equal(worker_intent_merge(INTENT_STOP, INTENT_REMOVE), INTENT_REMOVE);
        assert_string_equal(worker_intent_to_string(INTENT_RESTART), "restart");
        assert_null(worker_intent_to_string(_WORKER_INTENT_MAX));
}

static void test_exit_outcome(void **state) {
        assert_int_equal(worker_exit_outcome(INTENT_NONE, false), EXIT_OUTCOME_JUDGE);
        assert_int_equal(worker_exit_outcome(INTENT_RESTART, false), EXIT_OUTCOME_RESTART);
        assert_int_equal(worker_exit_outcome(INTENT_STOP, false), EXIT_OUTCOME_STAY_DOWN);
        assert_int_equal(worker_exit_outcome(INTENT_FAIL, false), EXIT_OUTCOME_FAIL);
        assert_int_equal(worker_exit_outcome(INTENT_REMOVE, false), EXIT_OUTCOME_REMOVE);
        /* While the daemon stops, nothing restarts and nothing is judged. */
        assert_int_equal(worker_exit_outcome(INTENT_NONE, true), EXIT_OUTCOME_STAY_DOWN);
        assert_int_equal(worker_exit_outcome(INTENT_RESTART, true), EXIT_OUTCOME_STAY_DOWN);
        assert_int_equal(worker_exit_outcome(INTENT_FAIL, true), EXIT_OUTCOME_FAIL);
        assert_int_equal(worker_exit_outcome(INTENT_REMOVE, true), EXIT_OUTCOME_REMOVE);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_intent_merge),
                cmocka_unit_test(test_exit_outcome),
                cmocka_unit_test(test_state_names),
                cmocka_unit_test(test_lifecycle),
                cmocka_unit_test(test_invalid_transitions),
                cmocka_unit_test(test_fail_and_recover),
                cmocka_unit_test(test_active),
                cmocka_unit_test(test_intensity),
                cmocka_unit_test(test_intensity_overflow),
                cmocka_unit_test(test_escalate),
                cmocka_unit_test(test_backoff),
                cmocka_unit_test(test_restart_policy),
                cmocka_unit_test(test_daemon_fault_delay),
                cmocka_unit_test(test_strategies),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
