/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* Growth rates and leak verdicts: exact on clean lines, unmoved by outliers, silent on too
 * little data. */

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "growth.h"

#define MiB (1024LL * 1024LL)

static void test_clean_line(void **state) {
        GrowthTrack t = {};
        int64_t r;

        for (int i = 0; i < 10; i++)
                growth_track_add(&t, (usec_t) i * USEC_PER_SEC, (uint64_t) (8 * MiB + i * 2 * MiB));
        assert_int_equal(growth_rate(&t, &r), 0);
        assert_int_equal(r, 2 * MiB);
        assert_int_equal(growth_time_to(8 * MiB, 28 * MiB, r), 10 * USEC_PER_SEC);
}

static void test_outliers_do_not_move_it(void **state) {
        GrowthTrack t = {};
        int64_t r;

        for (int i = 0; i < 9; i++)
                growth_track_add(&t, (usec_t) i * USEC_PER_SEC, (uint64_t) (20 * MiB + i * MiB));
        /* a burst of 100 MiB at one sample, and a GC dip at another */
        t.points[3].bytes += 100 * MiB;
        t.points[6].bytes -= 10 * MiB;
        assert_int_equal(growth_rate(&t, &r), 0);
        assert_int_equal(r, 1 * MiB);
}

static void test_flat_and_too_little(void **state) {
        GrowthTrack t = {};
        int64_t r = 42;

        assert_int_equal(growth_rate(&t, &r), -ENODATA);
        growth_track_add(&t, 0, 50 * MiB);
        growth_track_add(&t, USEC_PER_SEC, 50 * MiB);
        assert_int_equal(growth_rate(&t, &r), -ENODATA); /* two points */
        growth_track_add(&t, 2 * USEC_PER_SEC, 50 * MiB);
        assert_int_equal(growth_rate(&t, &r), 0);
        assert_int_equal(r, 0);
        assert_int_equal(growth_time_to(50 * MiB, 64 * MiB, r), USEC_INFINITY);
        assert_int_equal(growth_time_to(70 * MiB, 64 * MiB, r), 0);
        assert_int_equal(growth_time_to(1, UINT64_MAX, 5), USEC_INFINITY);

        growth_track_reset(&t);
        for (int i = 0; i < 5; i++)
                growth_track_add(&t, (usec_t) i * 100 * USEC_PER_MSEC, (uint64_t) i * MiB);
        assert_int_equal(growth_rate(&t, &r), -ENODATA); /* spans less than 1 s */
}

/* A long life keeps being covered: thinning keeps the first point and the slope. */
static void test_thinning(void **state) {
        GrowthTrack t = {};
        int64_t r;

        for (int i = 0; i < 200; i++)
                growth_track_add(&t, (usec_t) i * USEC_PER_SEC, (uint64_t) i * 3 * MiB);
        assert_true(t.n <= GROWTH_POINTS_MAX);
        assert_int_equal(t.points[0].at, 0);
        assert_true(t.points[t.n - 1].at >= 190 * USEC_PER_SEC);
        assert_int_equal(growth_rate(&t, &r), 0);
        assert_int_equal(r, 3 * MiB);
        /* a sample from the past is ignored */
        size_t n = t.n;
        growth_track_add(&t, 5, 0);
        assert_int_equal(t.n, n);
}

static void test_verdict(void **state) {
        LifeRates l = {};
        int64_t r = 0;

        life_rates_add(&l, 20 * MiB);
        life_rates_add(&l, 18 * MiB);
        assert_false(leak_verdict(&l, 3, MiB / 10, &r)); /* two lives are not a pattern */
        life_rates_add(&l, 22 * MiB);
        assert_true(leak_verdict(&l, 3, MiB / 10, &r));
        assert_int_equal(r, 20 * MiB);
        life_rates_add(&l, 0); /* a flat life breaks the streak */
        assert_false(leak_verdict(&l, 3, MiB / 10, &r));
        for (int i = 0; i < 20; i++)
                life_rates_add(&l, MiB);
        assert_int_equal(l.n, GROWTH_LIVES_MAX);
        assert_true(leak_verdict(&l, 3, MiB / 10, &r));
        assert_int_equal(r, MiB);
        assert_false(leak_verdict(&l, 3, 2 * MiB, &r)); /* below the threshold */
        assert_false(leak_verdict(&l, 2, 1, &r));       /* fewer than 3 lives asked */
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_clean_line),
                cmocka_unit_test(test_outliers_do_not_move_it),
                cmocka_unit_test(test_flat_and_too_little),
                cmocka_unit_test(test_thinning),
                cmocka_unit_test(test_verdict),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
