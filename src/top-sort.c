/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include "top-sort.h"

#include <string.h>

static const struct {
        char key;
        const char *name;
} orders[_TOP_ORDER_MAX] = {
        [TOP_ORDER_NAME] = {'n', "name"},         [TOP_ORDER_MEMORY] = {'m', "memory"},
        [TOP_ORDER_PERCENT] = {'p', "percent"},   [TOP_ORDER_GROWTH] = {'g', "growth"},
        [TOP_ORDER_TTB] = {'t', "ttb"},           [TOP_ORDER_RECYCLES] = {'r', "recycles"},
        [TOP_ORDER_RESTARTS] = {'R', "restarts"}, [TOP_ORDER_AGE] = {'a', "age"},
};

unsigned top_percent(uint64_t current, uint64_t budget) {
        return budget > 0 ? (unsigned) MIN((unsigned __int128) current * 100 / budget, 999) : 0;
}

#define CMP(x, y) ((x) < (y) ? -1 : (x) > (y) ? 1 : 0)

/* The key alone, in its default direction; *ret_unknown_a/b say which side has no value. */
static int compare_key(const TopRow *a, const TopRow *b, TopOrder order, bool *ret_unknown_a, bool *ret_unknown_b) {
        *ret_unknown_a = *ret_unknown_b = false;
        switch (order) {
        case TOP_ORDER_NAME:
                return 0; /* the tie-break below, which reverse turns around too */
        case TOP_ORDER_MEMORY:
                return CMP(b->current, a->current);
        case TOP_ORDER_PERCENT:
                *ret_unknown_a = a->budget == 0;
                *ret_unknown_b = b->budget == 0;
                /* a/A against b/B without rounding: a*B against b*A (no overflow in 128 bits). */
                return CMP((unsigned __int128) b->current * a->budget, (unsigned __int128) a->current * b->budget);
        case TOP_ORDER_GROWTH:
                return CMP(b->growth, a->growth);
        case TOP_ORDER_TTB:
                *ret_unknown_a = a->ttb == USEC_INFINITY;
                *ret_unknown_b = b->ttb == USEC_INFINITY;
                return CMP(a->ttb, b->ttb);
        case TOP_ORDER_RECYCLES:
                return CMP(b->recycles, a->recycles);
        case TOP_ORDER_RESTARTS:
                return CMP(b->restarts, a->restarts);
        case TOP_ORDER_AGE:
                *ret_unknown_a = a->age_usec == 0;
                *ret_unknown_b = b->age_usec == 0;
                return CMP(b->age_usec, a->age_usec);
        default:
                return 0;
        }
}

int top_compare(const TopRow *a, const TopRow *b, TopSort sort) {
        bool ua, ub;
        int c = compare_key(a, b, sort.order, &ua, &ub);

        if (ua != ub)
                return ua ? 1 : -1;
        if (ua)
                c = 0; /* both unknown: by name */
        else if (sort.reverse)
                c = -c;
        if (c != 0)
                return c;
        /* strverscmp() may call two different names equal ("a01", "a1"): strcmp() decides then. */
        c = strverscmp(a->name, b->name) ?: strcmp(a->name, b->name);
        return sort.order == TOP_ORDER_NAME && sort.reverse ? -c : c;
}

static int compare_qsort(const void *a, const void *b, void *userdata) {
        return top_compare(a, b, *(const TopSort *) userdata);
}

void top_sort(TopRow *rows, size_t n, TopSort sort) {
        if (n > 1)
                qsort_r(rows, n, sizeof *rows, compare_qsort, &sort);
}

char top_order_key(TopOrder order) {
        return order >= 0 && order < _TOP_ORDER_MAX ? orders[order].key : 0;
}

const char *top_order_name(TopOrder order) {
        return order >= 0 && order < _TOP_ORDER_MAX ? orders[order].name : NULL;
}

TopOrder top_order_from_key(char key) {
        for (TopOrder o = 0; o < _TOP_ORDER_MAX; o++)
                if (orders[o].key == key)
                        return o;
        return _TOP_ORDER_INVALID;
}

TopOrder top_order_from_name(const char *name) {
        for (TopOrder o = 0; o < _TOP_ORDER_MAX; o++)
                if (name && strcmp(orders[o].name, name) == 0)
                        return o;
        return _TOP_ORDER_INVALID;
}
