/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* cgwatchctl top's rows and their sort orders. Pure: no bus, no clock, no global state, so that
 * tests/unit/test-top-sort.c can check the exact order of every key. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "shared/macro.h"

struct json_object;

typedef enum TopOrder {
        TOP_ORDER_NAME,
        TOP_ORDER_MEMORY,
        TOP_ORDER_PERCENT,
        TOP_ORDER_GROWTH,
        TOP_ORDER_TTB,
        TOP_ORDER_RECYCLES,
        TOP_ORDER_RESTARTS,
        TOP_ORDER_AGE,
        _TOP_ORDER_MAX,
        _TOP_ORDER_INVALID = -1,
} TopOrder;

/* A sort order: the key, and whether it runs the other way round. */
typedef struct TopSort {
        TopOrder order;
        bool reverse;
} TopSort;

/* One worker as top shows it. The values that mean "unknown" (see top_compare()) are what the
 * daemon reports for them: budget 0 (no percentage), ttb USEC_INFINITY (never reaches the budget,
 * or no growth rate yet), age_usec 0 (not running). */
typedef struct TopRow {
        const char *name, *state, *last_reason; /* owned by props */
        struct json_object *props;
        uint64_t pid, current, budget, anon, file, recycles, restarts;
        usec_t ttb, age_usec;
        int64_t growth; /* bytes per second; 0: flat, or not known yet */
} TopRow;

/* Whole percent of the budget, rounded down, at most 999; 0 without a budget. */
unsigned top_percent(uint64_t current, uint64_t budget) _pure_;

/* <0, 0, >0 as a goes before, with, after b in `sort`. The default direction of each key, largest
 * first unless said: name (in version order: queuer@2 before queuer@10), memory.current, share of
 * the budget (exact, not the rounded percentage), growth rate (a shrinking worker after a flat
 * one), time to budget (soonest first), recycles, restarts, age (oldest first). reverse turns the
 * key around; an unknown value (see TopRow) sorts last in both directions, and rows equal on the
 * key keep name order in both. 0 only for rows of the same name. */
int top_compare(const TopRow *a, const TopRow *b, TopSort sort) _pure_;

/* Sorts rows in place by top_compare(). */
void top_sort(TopRow *rows, size_t n, TopSort sort);

/* The order's key on the screen ('n', 'm', ...) and its name for --order ("name", "memory", ...). */
char top_order_key(TopOrder order) _pure_;
const char *top_order_name(TopOrder order) _pure_;
/* The order of a key or a name; _TOP_ORDER_INVALID if there is none. */
TopOrder top_order_from_key(char key) _pure_;
TopOrder top_order_from_name(const char *name) _pure_;
