/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* cgwatchctl top's sort keys: the exact order of one fixed set of rows for every key, both ways
 * round, from several starting orders; unknown values last either way; ties by name. */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "top-sort.h"

#define S USEC_PER_SEC

/* The rows, chosen so that every key has a tie, an unknown value or a rounding trap:
 *   name       current budget  %      growth ttb   recycles restarts age
 *   web        300     400     75     +5     20 s  1        0        100 s
 *   queuer@2   50      100     50     +5     10 s  3        2        - (not running)
 *   queuer@10  100     200     50     0      never 3        2        500 s
 *   batch      0       0       -      -2     never 0        5        50 s
 *   cache      1000    1000    100    +1     0     0        0        500 s
 *   log        501     1000    50.1   -1     30 s  1        1        200 s */
/* clang-format off */
static const TopRow rows[] = {
        {.name = "web",       .current = 300,  .budget = 400,  .growth = 5,  .ttb = 20 * S,        .recycles = 1, .restarts = 0, .age_usec = 100 * S},
        {.name = "queuer@2",  .current = 50,   .budget = 100,  .growth = 5,  .ttb = 10 * S,        .recycles = 3, .restarts = 2, .age_usec = 0},
        {.name = "queuer@10", .current = 100,  .budget = 200,  .growth = 0,  .ttb = USEC_INFINITY, .recycles = 3, .restarts = 2, .age_usec = 500 * S},
        {.name = "batch",     .current = 0,    .budget = 0,    .growth = -2, .ttb = USEC_INFINITY, .recycles = 0, .restarts = 5, .age_usec = 50 * S},
        {.name = "cache",     .current = 1000, .budget = 1000, .growth = 1,  .ttb = 0,             .recycles = 0, .restarts = 0, .age_usec = 500 * S},
        {.name = "log",       .current = 501,  .budget = 1000, .growth = -1, .ttb = 30 * S,        .recycles = 1, .restarts = 1, .age_usec = 200 * S},
};
/* clang-format on */
#define N ELEMENTSOF(rows)

/* The names in the order top_sort() leaves them, as one string; the rows start in the order given
 * by `start` (a permutation of 0..N-1), so the result cannot depend on where they began. */
static void sorted_names(TopSort sort, const size_t start[N], char *buf, size_t size) {
        TopRow r[N];
        size_t len = 0;

        for (size_t i = 0; i < N; i++)
                r[i] = rows[start[i]];
        top_sort(r, N, sort);
        buf[0] = 0;
        for (size_t i = 0; i < N; i++)
                len += (size_t) snprintf(buf + len, size - len, "%s%s", i ? " " : "", r[i].name);
}

static const size_t starts[][N] = {
        {0, 1, 2, 3, 4, 5},
        {5, 4, 3, 2, 1, 0},
        {2, 4, 0, 5, 3, 1},
};

static void check_order(TopOrder order, bool reverse, const char *expected) {
        char buf[256];

        for (size_t s = 0; s < ELEMENTSOF(starts); s++) {
                sorted_names((TopSort){.order = order, .reverse = reverse}, starts[s], buf, sizeof buf);
                if (strcmp(buf, expected) != 0)
                        print_error("order %s%s from start %zu: got '%s', want '%s'\n", reverse ? "-" : "",
                                    top_order_name(order), s, buf, expected);
                assert_string_equal(buf, expected);
        }
}

/* Every key, its default direction and reversed. */
static const struct {
        TopOrder order;
        const char *forward, *reverse;
} expected[] = {
        /* version order: queuer@2 before queuer@10 */
        {TOP_ORDER_NAME, "batch cache log queuer@2 queuer@10 web", "web queuer@10 queuer@2 log cache batch"},
        {TOP_ORDER_MEMORY, "cache log web queuer@10 queuer@2 batch", "batch queuer@2 queuer@10 web log cache"},
        /* log's 50.1 % shows as 50 % but sorts above the two exact halves, which tie (by name);
         * batch has no budget: last both ways */
        {TOP_ORDER_PERCENT, "cache web log queuer@2 queuer@10 batch", "queuer@2 queuer@10 log web cache batch"},
        /* queuer@2 and web tie at +5 (by name); flat before shrinking */
        {TOP_ORDER_GROWTH, "queuer@2 web cache queuer@10 log batch", "batch log queuer@10 cache queuer@2 web"},
        /* soonest first, cache already there (0); the two "never" last both ways, by name */
        {TOP_ORDER_TTB, "cache queuer@2 web log batch queuer@10", "log web queuer@2 cache batch queuer@10"},
        {TOP_ORDER_RECYCLES, "queuer@2 queuer@10 log web batch cache", "batch cache log web queuer@2 queuer@10"},
        {TOP_ORDER_RESTARTS, "batch queuer@2 queuer@10 log cache web", "cache web log queuer@2 queuer@10 batch"},
        /* oldest first; cache and queuer@10 tie (by name); queuer@2 is not running: last both ways */
        {TOP_ORDER_AGE, "cache queuer@10 log web batch queuer@2", "batch web log cache queuer@10 queuer@2"},
};

static void test_every_key(void **state) {
        assert_int_equal(ELEMENTSOF(expected), _TOP_ORDER_MAX);
        for (size_t i = 0; i < ELEMENTSOF(expected); i++) {
                assert_int_equal(expected[i].order, (TopOrder) i);
                check_order(expected[i].order, false, expected[i].forward);
                check_order(expected[i].order, true, expected[i].reverse);
        }
}

/* A comparison qsort can trust: antisymmetric, and 0 only for a row against itself. */
static void test_compare_is_consistent(void **state) {
        for (TopOrder o = 0; o < _TOP_ORDER_MAX; o++)
                for (int rev = 0; rev < 2; rev++) {
                        TopSort sort = {.order = o, .reverse = rev};
                        for (size_t i = 0; i < N; i++)
                                for (size_t j = 0; j < N; j++) {
                                        int a = top_compare(&rows[i], &rows[j], sort);
                                        int b = top_compare(&rows[j], &rows[i], sort);
                                        assert_int_equal(a > 0, b < 0);
                                        assert_int_equal(a == 0, i == j);
                                }
                }
        /* names that strverscmp() calls equal still get an order */
        TopRow a = {.name = "a01"}, b = {.name = "a1"};
        assert_int_not_equal(top_compare(&a, &b, (TopSort){.order = TOP_ORDER_NAME}), 0);
        assert_int_equal(top_compare(&a, &b, (TopSort){}) > 0, top_compare(&b, &a, (TopSort){}) < 0);
}

static void test_percent_extremes(void **state) {
        /* 128-bit products: the largest values neither overflow nor wrap */
        TopRow full = {.name = "full", .current = UINT64_MAX, .budget = UINT64_MAX};
        TopRow half = {.name = "half", .current = UINT64_MAX / 2, .budget = UINT64_MAX};
        TopRow tiny = {.name = "tiny", .current = 1, .budget = 2};
        TopSort p = {.order = TOP_ORDER_PERCENT};

        assert_true(top_compare(&full, &half, p) < 0);
        /* (2^64-1)/2 of 2^64-1 is just under a half */
        assert_true(top_compare(&tiny, &half, p) < 0);
        assert_true(top_compare(&half, &tiny, p) > 0);

        assert_int_equal(top_percent(0, 0), 0);
        assert_int_equal(top_percent(5, 0), 0);
        assert_int_equal(top_percent(199, 200), 99);
        assert_int_equal(top_percent(200, 200), 100);
        assert_int_equal(top_percent(UINT64_MAX, UINT64_MAX), 100);
        assert_int_equal(top_percent(UINT64_MAX, 1), 999);
        assert_int_equal(top_percent(1000, 100), 999);
}

static void test_keys_and_names(void **state) {
        static const char keys[] = "nmpgtrRa";
        static const char *const names[] = {"name", "memory",   "percent",  "growth",
                                            "ttb",  "recycles", "restarts", "age"};

        assert_int_equal(_TOP_ORDER_MAX, strlen(keys));
        for (TopOrder o = 0; o < _TOP_ORDER_MAX; o++) {
                assert_int_equal(top_order_key(o), keys[o]);
                assert_string_equal(top_order_name(o), names[o]);
                assert_int_equal(top_order_from_key(keys[o]), o);
                assert_int_equal(top_order_from_name(names[o]), o);
        }
        assert_int_equal(top_order_from_key('R'), TOP_ORDER_RESTARTS);
        assert_int_equal(top_order_from_key('r'), TOP_ORDER_RECYCLES);
        assert_int_equal(top_order_from_key('q'), _TOP_ORDER_INVALID);
        assert_int_equal(top_order_from_key(' '), _TOP_ORDER_INVALID);
        assert_int_equal(top_order_from_key(0), _TOP_ORDER_INVALID);
        assert_int_equal(top_order_from_name("Memory"), _TOP_ORDER_INVALID);
        assert_int_equal(top_order_from_name("-memory"), _TOP_ORDER_INVALID);
        assert_int_equal(top_order_from_name(""), _TOP_ORDER_INVALID);
        assert_int_equal(top_order_from_name(NULL), _TOP_ORDER_INVALID);
        assert_null(top_order_name(_TOP_ORDER_MAX));
        assert_null(top_order_name(_TOP_ORDER_INVALID));
        assert_int_equal(top_order_key(_TOP_ORDER_MAX), 0);
}

static void test_sort_small(void **state) {
        TopRow one = rows[0];

        top_sort(NULL, 0, (TopSort){});
        top_sort(&one, 1, (TopSort){.order = TOP_ORDER_TTB, .reverse = true});
        assert_string_equal(one.name, "web");
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_every_key),        cmocka_unit_test(test_compare_is_consistent),
                cmocka_unit_test(test_percent_extremes), cmocka_unit_test(test_keys_and_names),
                cmocka_unit_test(test_sort_small),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
